"""多口径: the national carbon market and EU CBAM beside GB/T 32151.5, from the same activity data.

The rules are pure (``orgcarbon.rules.regimes``); this package loads their inputs, keeps each
organisation's regime settings, renders the pages, the JSON API and the two workbooks.
"""
