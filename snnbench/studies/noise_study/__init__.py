"""The noise study: how often ``snnbench ab`` cries wolf, and how often it catches a real slowdown.

``study`` runs whole A/B jobs (:func:`run_study`), ``rates`` counts them,
``load`` makes the machine busy.
"""

from snnbench.studies.noise_study.rates import Rate, injected_effects, job_rates
from snnbench.studies.noise_study.study import JobPlan, Study, StudyConfig, plan_jobs, run_study

__all__ = [
    "JobPlan",
    "Rate",
    "Study",
    "StudyConfig",
    "injected_effects",
    "job_rates",
    "plan_jobs",
    "run_study",
]
