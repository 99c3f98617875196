"""Every figure the cards, the page and the scoreboard report, in one place: its name, unit, what
it means, how it is written, and which way is better.

`TEST_SET_METRICS` are the test-set figures of `metrics.json`, in the order the tables list them;
`disentanglement.HEADLINE_METRICS` names the scoreboard's.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    key: str  # its name in metrics.json
    label: str  # its name in the tables
    meaning: str  # what it measures, in a phrase a visitor reads beside the figure
    unit: str = ""
    better: str = ""  # "lower", "higher", or "" where neither is (a count, a time)
    title: str = ""  # the scoreboard's short heading
    rewards: str = ""  # for the scoreboard's metrics: what it rewards ("rewards that ...")

    @property
    def heading(self) -> str:
        """The label with its unit: "test NLL, importance-weighted (nats/image)"."""
        return f"{self.label} ({self.unit})" if self.unit else self.label

    @property
    def explained(self) -> str:
        """What it measures, and which way is better."""
        return f"{self.meaning}; {self.better} is better" if self.better else self.meaning


_NATS = "nats/image"
_DISENTANGLEMENT = (
    (
        "dci_disentanglement",
        "DCI disentanglement",
        "each latent's importance for predicting the factors concentrates on one factor",
    ),
    ("dci_completeness", "DCI completeness", "each factor is predicted from one latent"),
    ("dci_informativeness_test", "DCI informativeness", "the factors can be predicted from the latents at all"),
    ("factor_vae_eval", "FactorVAE score", "fixing one factor quiets one latent more than the others"),
    ("sap", "SAP", "one latent alone predicts a factor much better than the runner-up latent"),
    ("modularity", "modularity", "each latent carries information about at most one factor"),
    ("explicitness", "explicitness", "a linear read-out of all latents recovers the factors"),
)
METRICS: dict[str, Metric] = {
    metric.key: metric
    for metric in (
        Metric("test_images", "test images", "how many test images the figures below are measured on"),
        Metric(
            "reconstruction_nats",
            "test reconstruction error",
            "how far reconstructions are from their images",
            _NATS,
            "lower",
        ),
        Metric(
            "negative_elbo_nats",
            "test negative ELBO",
            "reconstruction + KL: the bound the VAE is trained on",
            _NATS,
            "lower",
        ),
        Metric(
            "iwae_nll_nats",
            "test NLL, importance-weighted",
            "a tighter estimate of −log p(x) from 100 importance samples",
            _NATS,
            "lower",
        ),
        Metric(
            "kl_nats",
            "KL(q(z\\|x) ‖ p(z))",
            "how much the codes say about each image, in nats; 0 means the code is ignored",
            _NATS,
        ),
        Metric(
            "active_units",
            "active units (code variance > 0.01)",
            "latents whose code moves over the test set; the others do nothing",
        ),
        Metric(
            "mmd_aggregate_posterior",
            "MMD² of aggregate posterior vs prior",
            "how far the codes of the test images are from the prior N(0, I); near 0 is a match. "
            "It is the unbiased estimate (a U-statistic), which can dip slightly below 0 when the two match: "
            "a small negative value means 'no detectable difference', not an error",
        ),
        Metric(
            "mig",
            "MIG (disentanglement_lib protocol)",
            "per factor, the gap between the two latents most informative about it, as a share of its "
            "entropy, averaged; 1 is perfectly disentangled",
            better="higher",
            title="MIG",
            rewards="the latent most informative about a factor beats the runner-up by a large share of its entropy",
        ),
        Metric(
            "reconstruction_accuracy",
            "test reconstructions the judge gives their image's class",
            "reconstructions an independent classifier still recognises as their class",
            better="higher",
        ),
        Metric("reconstruction_accuracy_per_class", "… by class", "the same, class by class"),
        Metric(
            "reconstruction_iou",
            "test reconstructions' pixel overlap with their image (IoU)",
            "overlap of each reconstruction's pixels with its image's; 1 is exact",
            better="higher",
        ),
        Metric("reconstruction_iou_per_class", "… by class", "the same, class by class"),
        Metric(
            "conditional_accuracy",
            "class-conditioned samples classified as asked",
            "samples asked for a class that the classifier gives that class",
            better="higher",
        ),
        Metric(
            "sample_frechet_distance",
            "sample Fréchet distance (classifier features)",
            "distance between prior samples and test images in the classifier's features",
            better="lower",
        ),
        Metric(
            "classifier_test_accuracy",
            "judge classifier's test accuracy",
            "how good that classifier (the judge) is on real test images",
        ),
        Metric("training_seconds", "training time", "wall-clock training time", unit="minutes"),
        *(
            Metric(key, title, rewards, better="higher", title=title, rewards=rewards)
            for key, title, rewards in _DISENTANGLEMENT
        ),
    )
}
TEST_SET_METRICS = (
    "reconstruction_nats",
    "negative_elbo_nats",
    "iwae_nll_nats",
    "kl_nats",
    "active_units",
    "mmd_aggregate_posterior",
    "mig",
    "reconstruction_accuracy",
    "reconstruction_accuracy_per_class",
    "reconstruction_iou",
    "reconstruction_iou_per_class",
    "conditional_accuracy",
    "sample_frechet_distance",
    "classifier_test_accuracy",
)
