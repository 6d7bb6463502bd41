"""碳分析: panorama (碳全景), ledger (碳账本) and comparison (碳比对) over stored accounting results."""
