"""Clinical words shared by clients and techniques, which must not import each other."""

# DOMAIN.md 2b: client-level health flags.
HEALTH_FLAGS = (
    "dvt",
    "fever_acute_illness",
    "red_flag_open",
    "anticoagulant_or_bleeding_disorder",
    "osteoporosis",
    "acute_inflammation_or_injury",
    "fracture_unhealed",
    "recent_surgery",
    "skin_lesion",
    "varicose_veins",
    "pregnancy",
    "cancer_active_treatment",
    "reduced_sensation",
    "uncontrolled_hypertension_cardiac",
)

# DOMAIN.md 1: back regions a complaint or a plan item names.
REGIONS = ("cervical", "thoracic", "lumbar", "sacral_si", "gluteal")
