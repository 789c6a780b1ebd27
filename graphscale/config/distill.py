"""Typed config of ``graphscale distill`` (every field has a type, a default and a help text).

Sections: ``data`` (load), ``model`` + ``train`` (the teacher, trained by the node trainer exactly as
``graphscale train`` would with these two sections), ``student`` (the student's model and optimisation),
``distill`` (the objective and the inference timing), ``output`` and ``expected``. YAML files and ``key=value``
overrides go through the one schema engine (``load(path, overrides, cls=DistillConfig)``), with the same
path-aware errors as ``graphscale train`` (``distill.temperature: expected float > 0, got 0 (my.yaml:14).``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .schema import CONFIG_VERSION, DataConfig, Located, ModelConfig, OutputConfig, TrainConfig, option

DISTILL_METHODS = ("kd", "lsp", "gcrd")


@dataclass
class StudentConfig:
    """The student: an MLP (no graph at inference) or a smaller GNN, and how it is optimised."""

    name: str = option("mlp", "mlp, or a node model of graphscale train (gcn, sage, gat ...) for a smaller GNN.")
    hidden_dim: int = option(64, "Hidden size of the student.", ge=1)
    num_layers: int = option(2, "Layers of the student (linear layers for mlp).", ge=1)
    dropout: float = option(0.5, "Dropout on hidden features.", ge=0.0, lt=1.0)
    input_dropout: float | None = option(None, "Dropout on the input features (null: dropout).", ge=0.0, lt=1.0)
    epochs: int = option(500, "Maximum training epochs of the student (and of its no-teacher baseline).", ge=1)
    lr: float = option(0.01, "Learning rate (Adam).", gt=0.0)
    weight_decay: float = option(5e-4, "L2 weight decay.", ge=0.0)
    patience: int = option(100, "Stop after this many epochs without a better validation accuracy (0 = never).",
                           ge=0)


@dataclass
class DistillSection:
    """The distillation objective and the inference-time measurement."""

    method: str = option("kd", "kd: GLNN soft labels (logits); lsp: local structure preserving (Yang et al. 2020); "
                               "gcrd: contrastive representation distillation (Joshi et al. 2022).",
                         choices=DISTILL_METHODS)
    temperature: float = option(1.0, "Softmax temperature T of the soft labels (kd term).", gt=0.0)
    label_weight: float = option(0.0, "lambda: weight of the cross-entropy on the training labels; the kd term "
                                      "(T^2 KL on all nodes) gets 1 - lambda. 1 = no kd term (lsp / gcrd alone).",
                                 ge=0.0, le=1.0)
    feature_weight: float = option(1.0, "beta: weight of the representation term (lsp, gcrd).", ge=0.0)
    lsp_kernel: str = option("rbf", "LSP similarity kernel: rbf (LS proportional to exp(-|z_i - z_j|^2 / 2 "
                                    "sigma^2)), linear (z_i . z_j) or poly ((z_i . z_j + 1)^2).",
                             choices=("rbf", "linear", "poly"))
    lsp_sigma: float = option(1.0, "RBF bandwidth sigma of LSP.", gt=0.0)
    gcrd_dim: int = option(64, "G-CRD projection size.", ge=1)
    gcrd_tau: float = option(0.1, "G-CRD InfoNCE temperature.", gt=0.0)
    gcrd_negatives: int = option(512, "G-CRD negatives, drawn every epoch and shared by all nodes (a node is never "
                                       "its own negative).", ge=1)
    inference_nodes: int = option(10000, "Random nodes whose prediction is timed (teacher vs student).", ge=1)
    inference_fanouts: list[int] | None = option(  # noqa: RUF009 (option() returns a dataclass field)
        None, "Neighbours per hop the teacher fetches at inference (-1 = all); null: all neighbours of every "
              "hop (exact inference).", ge=1, allow=(-1,))
    inference_repeats: int = option(5, "Timed repetitions (the median is reported; one warm-up first); 0 = skip "
                                       "the timing.", ge=0)


@dataclass
class DistillExpectedConfig:
    """The published and measured figures a shipped config reproduces (informational)."""

    teacher_acc: float | None = option(None, "Teacher test accuracy measured here.", ge=0.0, le=1.0)
    student_acc: float | None = option(None, "Student test accuracy measured here.", ge=0.0, le=1.0)
    baseline_acc: float | None = option(None, "The student's test accuracy without a teacher, measured here.",
                                        ge=0.0, le=1.0)
    paper_teacher_acc: float | None = option(None, "The paper's teacher accuracy.", ge=0.0, le=1.0)
    paper_student_acc: float | None = option(None, "The paper's student accuracy.", ge=0.0, le=1.0)
    paper_baseline_acc: float | None = option(None, "The paper's student-without-teacher accuracy.", ge=0.0, le=1.0)
    max_gap: float | None = option(None, "Target: teacher_acc - student_acc at most this (fraction).", ge=0.0)
    source: str = option("", "Citation of the published numbers.")
    protocol: str = option("", "How the numbers are measured (split, seeds, selection).")


@dataclass
class DistillConfig(Located):
    """Everything ``graphscale distill`` needs."""

    version: int = option(CONFIG_VERSION, "Config format version.", ge=1, le=CONFIG_VERSION)
    task: str = option("distill", "Always distill.", choices=("distill",))
    data: DataConfig = field(default_factory=DataConfig, metadata={"help": "Dataset to load."})
    model: ModelConfig = field(default_factory=lambda: ModelConfig(name="sage"),
                               metadata={"help": "The teacher GNN (a node model of graphscale train)."})
    train: TrainConfig = field(default_factory=TrainConfig,
                               metadata={"help": "How the teacher trains; seeds and seed apply to every run."})
    student: StudentConfig = field(default_factory=StudentConfig, metadata={"help": "The student."})
    distill: DistillSection = field(default_factory=DistillSection, metadata={"help": "The objective."})
    output: OutputConfig = field(default_factory=OutputConfig, metadata={"help": "Where to save results."})
    expected: DistillExpectedConfig = field(default_factory=DistillExpectedConfig,
                                            metadata={"help": "Published and measured figures."})


__all__ = ["DISTILL_METHODS", "DistillConfig", "DistillExpectedConfig", "DistillSection", "StudentConfig"]
