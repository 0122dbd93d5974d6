"""The built-in technique catalog (DOMAIN.md 5) and default contraindication matrix (DOMAIN.md 2c).

Plain data: `seed_catalog` copies it into a new practice, which may then adjust its copy.
"""

from __future__ import annotations

from dataclasses import dataclass

CODES = (
    "effleurage",
    "kneading",
    "friction",
    "tapotement",
    "compression",
    "trigger_point",
    "myofascial_release",
    "stretching",
    "vibration",
)


@dataclass(frozen=True)
class CatalogEntry:
    code: str
    name: str
    description: str
    purpose: str
    pressure: tuple[int, int] | None
    minutes: tuple[int, int]


CATALOG = (
    CatalogEntry(
        "effleurage",
        "Effleurage",
        "Long gliding strokes following the body contour, light to deep.",
        "Warms up and relaxes; opens, links and closes each region, spreads lubricant and "
        "surveys the tissue.",
        (1, 3),
        (3, 5),
    ),
    CatalogEntry(
        "kneading",
        "Kneading (petrissage)",
        "Lifting, squeezing, rolling and wringing of soft tissue.",
        "Releases tension and improves circulation in the paraspinals, quadratus "
        "lumborum and gluteals after warm-up.",
        (2, 4),
        (5, 10),
    ),
    CatalogEntry(
        "friction",
        "Friction",
        "Small cross-fibre or circular movements that shift the skin with the tissue "
        "beneath, with little or no oil.",
        "Works knots and adhesions at tendon and ligament sites; chronic stages only.",
        (3, 5),
        (2, 10),
    ),
    CatalogEntry(
        "tapotement",
        "Tapotement",
        "Rapid alternating percussion with hand edges, cupped palms, fingertips or loose fists.",
        "Stimulates; a brief finish on fleshy muscle, never over bony prominences or kidneys.",
        (2, 4),
        (1, 2),
    ),
    CatalogEntry(
        "compression",
        "Compression",
        "Rhythmic pressing into a muscle belly with palm or loose fist, then release.",
        "Releases tension along the spine; warm-up on gluteal and lumbar muscles before "
        "specific work.",
        (2, 4),
        (2, 5),
    ),
    CatalogEntry(
        "trigger_point",
        "Trigger point (ischaemic compression)",
        "Sustained pressure on a tender nodule for about 30-60 s until tenderness or "
        "tension eases, repeated up to about three times.",
        "Eases trigger points in quadratus lumborum, gluteus medius and paraspinals.",
        (3, 4),
        (1, 5),
    ),
    CatalogEntry(
        "myofascial_release",
        "Myofascial release",
        "Slow sustained stretch or pressure held at the tissue barrier for 90-120 s or more.",
        "Releases the thoracolumbar fascia and gluteals.",
        (1, 3),
        (5, 15),
    ),
    CatalogEntry(
        "stretching",
        "Stretching (passive)",
        "Therapist-moved lengthening of a muscle.",
        "Lengthens hip flexors, piriformis and hamstrings.",
        None,
        (2, 5),
    ),
    CatalogEntry(
        "vibration",
        "Vibration",
        "Shaking, trembling or rocking transmitted by hand.",
        "Relaxation and transitions between regions.",
        (1, 2),
        (1, 2),
    ),
)

ALL = CODES
LOCAL_FLAGS = (
    "acute_inflammation_or_injury",
    "fracture_unhealed",
    "recent_surgery",
    "skin_lesion",
    "varicose_veins",
)
GENERAL_FLAGS = ("dvt", "fever_acute_illness", "red_flag_open")

# flag -> {technique code: "refuse" | "local" | int pressure cap}; a missing technique is allowed.
X, L = "refuse", "local"
MATRIX: dict[str, dict[str, str | int]] = {
    **{flag: dict.fromkeys(ALL, X) for flag in GENERAL_FLAGS},
    "anticoagulant_or_bleeding_disorder": {
        "effleurage": 2,
        "kneading": 2,
        "friction": X,
        "tapotement": X,
        "compression": X,
        "trigger_point": X,
        "myofascial_release": 2,
        "stretching": 2,
        "vibration": 2,
    },
    "osteoporosis": {
        "effleurage": 3,
        "kneading": 2,
        "friction": X,
        "tapotement": X,
        "compression": X,
        "trigger_point": 2,
        "stretching": 2,
    },
    **{flag: dict.fromkeys(ALL, L) for flag in LOCAL_FLAGS},
    "pregnancy": {
        "friction": 3,
        "tapotement": X,
        "compression": 3,
        "trigger_point": 3,
        "stretching": 3,
    },
    **{
        flag: {
            "effleurage": 3,
            "kneading": 3,
            "friction": X,
            "tapotement": X,
            "compression": 3,
            "trigger_point": 3,
            "stretching": 3,
        }
        for flag in ("cancer_active_treatment", "reduced_sensation")
    },
}
NOTES = {("osteoporosis", "stretching"): "no end-range"}
