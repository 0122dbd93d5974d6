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
    "pregnancy_high_risk",  # DOMAIN.md 2b "pregnancy (+ high_risk => clearance)"
    "cancer_active_treatment",
    "reduced_sensation",
    "uncontrolled_hypertension_cardiac",
)

# DOMAIN.md 1: back regions a complaint or a plan item names.
REGIONS = ("cervical", "thoracic", "lumbar", "sacral_si", "gluteal")

# DOMAIN.md 2b "general" scope: "applies to all treatment", so to every technique.
WHOLE_BODY_FLAGS = ("dvt", "fever_acute_illness", "red_flag_open")
# DOMAIN.md 2b: flags whose rule is "clearance first" ("no massage until medically cleared").
CLEARANCE_FLAGS = (
    "dvt",
    "uncontrolled_hypertension_cardiac",
    "pregnancy_high_risk",
    "cancer_active_treatment",
)
