"""Intensity per process product: which product a process makes, how much, and tCO2 per tonne.

A process's product quantity is data among the activity records; nothing in the schema names it:

- A record of the category ``product_output`` (产品产量) states that its process made ``quantity``
  of ``material`` (烧结矿 at 烧结, 生铁 at 炼铁, 焦炭 at 焦化 …), in a mass unit. It is not an
  emission source: the engine accounts no line for it and keeps it apart (``Result.products``).
- Crude steel needs no such record: GB/T 32151.5 deducts *all* crude steel as a fixed-carbon
  product (R固碳), so the fixed-carbon records of the intensity product (粗钢) of a site are that
  site's crude-steel output — as ``Result.intensity`` already counts it. No other fixed-carbon
  product stands for an output: pig iron is deducted only for what leaves the boundary.
- ``PROCESS_PRODUCTS`` (plain data, keyed by process name as the GB/T 32151.5 pack's templates
  name them) says which product is a process's own. It picks among several products recorded at
  one process, and it sends a site's crude steel to its steelmaking process (转炉炼钢 or 电炉炼钢),
  wherever the fixed-carbon record sits (often 连铸), provided the site has exactly one.

The intensity of a process is its signed emissions (with and without indirect) divided by its
product's tonnes. A process without a known product quantity has no intensity; none is guessed.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

__all__ = [
    "BASIS_NAMES",
    "CRUDE_STEEL",
    "PROCESS_PRODUCTS",
    "PRODUCT_CATEGORY",
    "PRODUCT_CATEGORY_NAME",
    "ProcessIntensity",
    "ProductLine",
    "is_product_category",
    "process_intensities",
]

PRODUCT_CATEGORY = "product_output"
PRODUCT_CATEGORY_NAME = "产品产量"
CRUDE_STEEL = "粗钢"
Site = TypeVar("Site", bound=Hashable)  # a site's name (engine) or organisation id (stored runs)

BASIS_OUTPUT = "product_output"  # from product_output records of the process
BASIS_FIXED_CARBON = "fixed_carbon_product"  # the site's crude steel deducted as fixed carbon
BASIS_NAMES = {BASIS_OUTPUT: "产品产量记录", BASIS_FIXED_CARBON: "固碳产品（粗钢）记录"}

# Process → its product(s), first preferred. The steel route of GB/T 32151.5 (and the CBAM goods
# of methodology §5: sinter, pig iron, crude steel); other processes name their product by record.
PROCESS_PRODUCTS: dict[str, tuple[str, ...]] = {
    "焦化": ("焦炭",),
    "烧结": ("烧结矿",),
    "球团": ("球团矿",),
    "炼铁": ("生铁", "铁水"),
    "炼钢": ("粗钢",),
    "转炉炼钢": ("粗钢",),
    "电炉炼钢": ("粗钢",),
    "石灰窑": ("石灰",),
    "轧钢": ("钢材",),
}


def is_product_category(label: str) -> bool:
    """True for the key or the Chinese name of the product-output category."""
    return label.strip() in (PRODUCT_CATEGORY, PRODUCT_CATEGORY_NAME)


@dataclass(frozen=True)
class ProductLine:
    """One product-output record: where, when, what and how many tonnes (its lineage)."""

    row: int
    record_id: str | None
    site: str
    process: str
    subprocess: str
    month: str
    material: str
    quantity: float
    unit: str
    quantity_t: float


@dataclass(frozen=True)
class ProcessIntensity:
    """tCO2 per tonne of one process's product, with the figures it is made of."""

    site: str
    process: str
    product: str
    quantity_t: float
    net_tco2: float  # the process's signed emissions, including indirect
    direct_tco2: float
    total_per_t: float
    direct_per_t: float
    basis: str  # BASIS_OUTPUT or BASIS_FIXED_CARBON: which records gave the quantity

    def as_dict(self) -> dict[str, object]:
        """JSON form (the ``process_intensity`` entries of calc and the results API)."""
        return {
            "site": self.site,
            "process": self.process,
            "product": self.product,
            "quantity_t": self.quantity_t,
            "net_tco2": self.net_tco2,
            "direct_tco2": self.direct_tco2,
            "total_tco2_per_t": self.total_per_t,
            "direct_tco2_per_t": self.direct_per_t,
            "basis": self.basis,
        }


def _choose(
    recorded: Iterable[str], process: str, table: Mapping[str, tuple[str, ...]]
) -> str | None:
    found = list(dict.fromkeys(recorded))
    if len(found) == 1:
        return found[0]
    preferred = [p for p in table.get(process, ()) if p in found]
    return preferred[0] if preferred else None  # several products and none is the process's own


def process_intensities(
    emissions: Mapping[tuple[Site, str], tuple[float, float]],
    outputs: Mapping[tuple[Site, str, str], float],
    fixed_carbon_t: Mapping[Site, float],
    table: Mapping[str, tuple[str, ...]] | None = None,
    crude_steel: str = CRUDE_STEEL,
) -> tuple[ProcessIntensity, ...]:
    """Intensity of every (site, process) whose product quantity is known.

    ``emissions``: (site, process) → (net, direct) tCO2; ``outputs``: (site, process, material) →
    tonnes from product-output records; ``fixed_carbon_t``: site → tonnes of crude steel deducted
    as fixed carbon. Sites are any hashable key and are returned as ``str``.
    """
    table = PROCESS_PRODUCTS if table is None else table
    keys = list(dict.fromkeys([*emissions, *((s, p) for s, p, _ in outputs)]))
    steelmaking: dict[Site, list[str]] = {}
    for site, process in keys:
        if crude_steel in table.get(process, ()):
            steelmaking.setdefault(site, []).append(process)
    found = []
    for site, process in keys:
        net, direct = emissions.get((site, process), (0.0, 0.0))
        recorded = [m for s, p, m in outputs if (s, p) == (site, process)]
        if recorded:
            product = _choose(recorded, process, table)
            if product is None:
                continue
            quantity, basis = outputs[(site, process, product)], BASIS_OUTPUT
        elif steelmaking.get(site) == [process]:
            product, quantity, basis = (
                crude_steel,
                fixed_carbon_t.get(site, 0.0),
                BASIS_FIXED_CARBON,
            )
        else:
            continue
        if quantity > 0:
            found.append(
                ProcessIntensity(
                    str(site),
                    process,
                    product,
                    quantity,
                    net,
                    direct,
                    net / quantity,
                    direct / quantity,
                    basis,
                )
            )
    return tuple(found)
