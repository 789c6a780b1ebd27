"""Dataset registry: ``load(name_or_path)``, ``available()`` and the canonical download URLs.

Names are lower-case and hyphenated, looked up case-insensitively (``_`` and spaces read as ``-``); a miss
raises ``DatasetError`` with "did you mean" suggestions. A path instead of a name loads a folder with
``edges.csv`` (custom graph), a heterogeneous folder (``nodes/`` + ``edges/``), a TU folder (``<DS>_A.txt``) or a
gnn-benchmark ``.npz`` file.
"""

from __future__ import annotations

import difflib
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DatasetError
from . import geomgcn, mat, musae, npz, planetoid, tu
from .base import GraphDataset, NodeDataset
from .custom import load_custom
from .edgelist import KARATE_URL, load_karate
from .hetero import HeteroNodeDataset, is_hetero_folder, load_hetero_folder
from .io import data_root, resolve
from .ogb_mag import OGB_MAG_CLASSES, OGB_MAG_FILES, OGB_MAG_FOLDER, OGB_MAG_URL, load_ogb_mag
from .synthetic import load_synthetic, load_synthetic_arxiv, load_synthetic_products
from .synthetic_mag import MAG_COUNTS, MagSpec, load_synthetic_mag


@dataclass(frozen=True)
class DatasetSpec:
    """One registered dataset.

    Attributes:
        name: Registry key (lower-case, hyphenated).
        task: "node-classification", "graph-classification" or "heterogeneous-node-classification".
        loader: ``loader(root, **options)`` returning the dataset.
        folder: Folder under the data root ("" for generated datasets).
        files: Files the loader needs, relative to ``folder`` (``.xz``/``.gz`` variants also count).
        urls: Canonical download URL of each file (used by ``download=True``).
        stats: Known sizes for listings: num_nodes / num_edges / num_graphs / num_classes / num_features.
        description: One line for ``graphscale datasets``.
    """

    name: str
    task: str
    loader: Callable[..., NodeDataset | GraphDataset]
    folder: str = ""
    files: tuple[str, ...] = ()
    urls: dict[str, str] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=dict)
    description: str = ""


REGISTRY: dict[str, DatasetSpec] = {}
ALIASES = {"film": "actor", "ogbn-arxiv-synthetic": "synthetic-arxiv", "git": "github", "lastfm": "lastfm-asia"}
NODE, GRAPH, HETERO = "node-classification", "graph-classification", "heterogeneous-node-classification"


def register(spec: DatasetSpec) -> DatasetSpec:
    """Add (or replace) ``spec`` in the registry; returns it."""
    REGISTRY[spec.name] = spec
    return spec


def normalize_name(name: str) -> str:
    key = name.strip().lower().replace("_", "-").replace(" ", "-")
    return ALIASES.get(key, key)


def _stats(nodes: int, edges: int | None, classes: int, features: int | None = None) -> dict[str, int]:
    out = {"num_nodes": nodes, "num_classes": classes}
    if edges is not None:
        out["num_edges"] = edges
    if features is not None:
        out["num_features"] = features
    return out


def _planetoid(name: str, stats: dict[str, int]) -> None:
    register(DatasetSpec(
        name, NODE, lambda root=None, **o: planetoid.load_planetoid(name, root, **o), planetoid.FOLDER,
        tuple(planetoid.file_names(name)), planetoid.urls(name), stats,
        f"{name} citation graph, public Planetoid split (Yang et al. 2016)"))


_planetoid("cora", _stats(2708, 10556, 7, 1433))
_planetoid("citeseer", _stats(3327, 9104, 6, 3703))
_planetoid("pubmed", _stats(19717, 88648, 3, 500))

for _name, _prefix, _graphs, _classes, _what in (("mutag", "MUTAG", 188, 2, "mutagenic compounds"),
                                                  ("proteins", "PROTEINS", 1113, 2, "enzymes vs non-enzymes"),
                                                  ("enzymes", "ENZYMES", 600, 6, "EC top-level enzyme classes")):
    register(DatasetSpec(
        _name, GRAPH, lambda root=None, _n=_name, _p=_prefix, **o: tu.load_tu_named(_n, _p, root, **o), _name,
        tuple(tu.file_names(_prefix)), {f: tu.TU_URL.format(name=_prefix) for f in tu.file_names(_prefix)},
        {"num_graphs": _graphs, "num_classes": _classes}, f"TU {_prefix}: {_what}"))

_MUSAE_STATS = {
    "facebook": (_stats(22470, 341646, 4, 4714), "Facebook page-page network, 4 page types (MUSAE)"),
    "github": (_stats(37700, 578006, 2, 4005), "GitHub developers, web vs ML (MUSAE)"),
    "twitch-de": (_stats(9498, 306276, 2, 3170), "Twitch DE users, mature content (MUSAE)"),
    "twitch-engb": (_stats(7126, 70648, 2, 3170), "Twitch ENGB users, mature content (MUSAE)"),
    "twitch-es": (_stats(4648, 118764, 2, 3170), "Twitch ES users, mature content (MUSAE)"),
    "twitch-ptbr": (_stats(1912, 62598, 2, 3170), "Twitch PTBR users, mature content (MUSAE)"),
    "twitch-ru": (_stats(4385, 74608, 2, 3170), "Twitch RU users, mature content (MUSAE)"),
    "lastfm-asia": (_stats(7624, 55612, 18), "LastFM Asia users, 18 countries (structure only: degree features)"),
}
for _name, (_st, _desc) in _MUSAE_STATS.items():
    _spec = musae.SPECS[_name]
    register(DatasetSpec(
        _name, NODE, lambda root=None, _n=_name, **o: musae.load_musae(_n, root, **o), _spec.folder,
        tuple(_spec.urls), _spec.urls, _st, _desc))

_GEOM_STATS = {
    "actor": (_stats(7600, 53318, 5, 932), "Actor co-occurrence (film), heterophilous, 10 Geom-GCN splits"),
    "cornell": (_stats(183, 554, 5, 1703), "WebKB Cornell, heterophilous, 10 Geom-GCN splits"),
    "texas": (_stats(183, 558, 5, 1703), "WebKB Texas, heterophilous, 10 Geom-GCN splits"),
    "wisconsin": (_stats(251, 900, 5, 1703), "WebKB Wisconsin, heterophilous, 10 Geom-GCN splits"),
    "chameleon": (_stats(2277, 62742, 5, 3132),
                  "Wikipedia chameleon, MUSAE features, 5 traffic-quantile classes (not Geom-GCN's), 10 splits"),
    "squirrel": (_stats(5201, 396706, 5, 3148),
                 "Wikipedia squirrel, MUSAE features, 5 traffic-quantile classes (not Geom-GCN's), 10 splits"),
}
for _name, (_st, _desc) in _GEOM_STATS.items():
    _urls = geomgcn.urls(_name)
    register(DatasetSpec(
        _name, NODE, lambda root=None, _n=_name, **o: geomgcn.load_geomgcn(_n, root, **o), _name,
        tuple(_urls), _urls, _st, _desc))

_NPZ_STATS = {
    "amazon-computers": (_stats(13752, None, 10, 767), "Amazon Computers co-purchase (gnn-benchmark .npz)"),
    "amazon-photo": (_stats(7650, None, 8, 745), "Amazon Photo co-purchase (gnn-benchmark .npz)"),
    "coauthor-cs": (_stats(18333, None, 15, 6805), "Coauthor CS (gnn-benchmark .npz)"),
    "coauthor-physics": (_stats(34493, None, 5, 8415), "Coauthor Physics (gnn-benchmark .npz)"),
}
for _name, (_st, _desc) in _NPZ_STATS.items():
    _file = npz.FILES[_name]
    register(DatasetSpec(
        _name, NODE, lambda root=None, _n=_name, **o: npz.load_npz_named(_n, root, **o), _name, (_file,),
        {_file: npz.URL.format(file=_file)}, _st, _desc))

for _name, (_st, _desc) in {
    "blogcatalog": (_stats(10312, 667966, 39), "BlogCatalog bloggers, 39 multi-label interests (DeepWalk, node2vec)"),
    "ppi": (_stats(3890, 76584, 50), "PPI Homo sapiens, 50 multi-label hallmark gene sets (node2vec)"),
}.items():
    _mat = mat.SPECS[_name]
    register(DatasetSpec(_name, NODE, lambda root=None, _n=_name, **o: mat.load_mat_named(_n, root, **o), _mat.folder,
                         (_mat.file,), {_mat.file: _mat.url}, _st, _desc))
register(DatasetSpec("karate", NODE, load_karate, "karate", ("karate.adjlist",), {"karate.adjlist": KARATE_URL},
                     _stats(34, 156, 2), "Zachary's karate club, 2 factions (DeepWalk example graph)"))
register(DatasetSpec("synthetic", NODE, lambda root=None, **o: load_synthetic(**o), stats=_stats(2500, None, 7, 64),
                     description="small seeded SBM, 7 classes, Planetoid-like split (default of graphscale train)"))
register(DatasetSpec("synthetic-arxiv", NODE, load_synthetic_arxiv, stats=_stats(169343, 2332486, 40, 128),
                     description="ogbn-arxiv-shaped degree-corrected SBM, power-law degrees, homophily ~0.65"))
register(DatasetSpec("synthetic-products", NODE, load_synthetic_products,
                     stats=_stats(2449029, 123718280, 47, 100),
                     description="ogbn-products-shaped degree-corrected SBM (generated once, cached as .npy)"))
register(DatasetSpec("ogbn-mag", HETERO, lambda root=None, **o: load_ogb_mag(root, **o), OGB_MAG_FOLDER,
                     OGB_MAG_FILES, dict.fromkeys(OGB_MAG_FILES, OGB_MAG_URL),
                     {"num_nodes": sum(MAG_COUNTS.values()), "num_edges": 21_111_007,
                      "num_classes": OGB_MAG_CLASSES, "num_features": 128},
                     "OGB MAG: papers, authors, institutions, fields; 349 paper venues, time split (not shipped)"))
register(DatasetSpec("synthetic-mag", HETERO, load_synthetic_mag,
                     stats={"num_nodes": 52_683, "num_edges": 558_903, "num_classes": MagSpec.num_classes,
                            "num_features": MagSpec.num_features},
                     description="ogbn-mag-shaped heterogeneous graph (20k papers by default), planted venues"))


def names() -> list[str]:
    """Registered dataset names, sorted."""
    return sorted(REGISTRY)


def get_spec(name: str) -> DatasetSpec:
    """The spec of ``name``; ``DatasetError`` with suggestions on a miss."""
    key = normalize_name(name)
    spec = REGISTRY.get(key)
    if spec is None:
        close = difflib.get_close_matches(key, list(REGISTRY) + list(ALIASES), n=3, cutoff=0.6)
        hint = f"Did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
        raise DatasetError(f"load: expected a dataset name or a path to a dataset folder, got {name!r}. {hint}"
                           "Run `graphscale datasets` to list the registered names.")
    return spec


def _check_options(where: str, loader: Callable[..., Any], options: dict[str, Any]) -> None:
    params = inspect.signature(loader).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    valid = sorted(k for k, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise DatasetError(f"{where}: expected options among {valid}, got {unknown}. Remove or rename them.")


def _inner_loader(spec: DatasetSpec) -> Callable[..., Any]:
    """The function whose keyword-only options the spec's loader accepts (for option validation)."""
    return {
        "planetoid": planetoid.load_planetoid, "tu": tu.load_tu, "musae": musae.load_musae,
        "geomgcn": geomgcn.load_geomgcn, "npz": npz.load_npz, "synthetic": load_synthetic,
        "ogb-mag": load_ogb_mag,
    }.get(_family(spec), spec.loader)


def _family(spec: DatasetSpec) -> str:
    if spec.folder == planetoid.FOLDER:
        return "planetoid"
    if spec.task == GRAPH:
        return "tu"
    if spec.name in musae.SPECS:
        return "musae"
    if spec.name in geomgcn.SPECS or spec.name in geomgcn.WIKI_SPECS:
        return "geomgcn"
    if spec.name in npz.FILES:
        return "npz"
    if spec.name == "ogbn-mag":
        return "ogb-mag"
    return "synthetic" if spec.name == "synthetic" else "other"


def _default_download() -> bool:
    return os.environ.get("GRAPHSCALE_DOWNLOAD", "1").strip().lower() not in ("0", "false", "no", "")


def load(name_or_path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None,
         **options: Any) -> NodeDataset | GraphDataset | HeteroNodeDataset:
    """Load a registered dataset by name, or a dataset folder / ``.npz`` file by path.

    Args:
        name_or_path: Registry name ("cora", "MUTAG", "twitch-de", "synthetic" ...) or a path.
        root: Data root (default ``$GRAPHSCALE_DATA``, else ``~/.cache/graphscale``).
        **options: Loader options, e.g. ``normalize_features=False`` (Planetoid), ``use_node_attributes=True``
            (TU), ``seed=1`` (random splits, synthetic sets), ``download=False``. Real datasets download missing
            files by default unless ``$GRAPHSCALE_DOWNLOAD=0``.

    Returns:
        ``NodeDataset`` (node classification), ``GraphDataset`` (graph classification) or ``HeteroNodeDataset``
        (ogbn-mag, synthetic-mag, a folder with ``nodes/`` and ``edges/``).

    Raises:
        DatasetError: Unknown name (with suggestions), unknown option, missing or malformed files.
    """
    path = _as_path(name_or_path) or in_data_root(os.fspath(name_or_path), root)
    if path is not None:
        return _load_path(path, options)
    spec = get_spec(os.fspath(name_or_path))
    family = _family(spec)
    if family in ("planetoid", "tu", "musae", "geomgcn", "npz"):
        options.setdefault("download", _default_download())
    check = dict(options)
    if family == "npz":
        check.pop("download", None)
    _check_options(f"load({spec.name!r})", _inner_loader(spec), check)
    return spec.loader(root=root, **options)


def _as_path(name_or_path: str | os.PathLike[str]) -> Path | None:
    """The path ``load`` reads ``name_or_path`` as, or None when it is a registry name."""
    text = os.fspath(name_or_path)
    path = Path(text).expanduser()
    is_path = isinstance(name_or_path, os.PathLike) or os.sep in text or text.endswith(".npz")
    is_path = is_path or text.endswith((".mat", ".mat.xz"))
    return path if is_path or (path.exists() and normalize_name(text) not in REGISTRY) else None


def in_data_root(name: str, root: str | os.PathLike[str] | None = None) -> Path | None:
    """``<data root>/<name>`` (as given, lower- or upper-case) when ``name`` is no registered dataset but names a
    folder or file there, as PyG's ``TUDataset(root, name)`` finds ``root/NAME``: a TU folder, an edges.csv
    folder, a folder with one .mat network, a .npz file."""
    if normalize_name(name) in REGISTRY or not name or os.sep in name:
        return None
    base = data_root(root)
    for candidate in dict.fromkeys((name, name.lower(), name.upper())):
        for path in (base / candidate, base / f"{candidate}.npz"):
            if path.exists():
                return path
    return None


def mat_file(folder: Path) -> Path | None:
    """The one ``.mat`` (or ``.mat.xz``) network file in ``folder``, else None."""
    found = sorted(p for p in folder.iterdir() if p.name.endswith((".mat", ".mat.xz")))
    return found[0] if len(found) == 1 else None


def custom_folder(name_or_path: str | os.PathLike[str]) -> Path | None:
    """The folder when ``load(name_or_path)`` reads a custom graph (a folder with ``edges.csv``), else None;
    callers use it to pass ``load_custom``'s options (``unknown_nodes`` ...) only where they apply."""
    path = _as_path(name_or_path)
    return path if path is not None and path.is_dir() and resolve(path, "edges.csv") is not None else None


def _load_path(path: Path, options: dict[str, Any]) -> NodeDataset | GraphDataset | HeteroNodeDataset:
    if path.is_file() and path.suffix == ".npz":
        _check_options(f"load({path.name!r})", npz.load_npz, options)
        return npz.load_npz(path, **options)
    if path.is_dir():
        if is_hetero_folder(path):
            _check_options(f"load({path.name!r})", load_hetero_folder, options)
            return load_hetero_folder(path, **options)
        if resolve(path, "edges.csv") is not None:
            _check_options(f"load({path.name!r})", load_custom, options)
            return load_custom(path, **options)
        if tu.find_prefix(path) is not None:
            _check_options(f"load({path.name!r})", tu.load_tu, options)
            return tu.load_tu(path, **options)
        network = mat_file(path)
        if network is not None:
            _check_options(f"load({path.name!r})", mat.load_mat, options)
            return mat.load_mat(network, name=path.name, **options)
    if path.is_file() and path.name.endswith((".mat", ".mat.xz")):
        _check_options(f"load({path.name!r})", mat.load_mat, options)
        return mat.load_mat(path, **options)
    raise DatasetError(f"load: expected a folder with edges.csv (custom graph), nodes/ + edges/ (heterogeneous), "
                       f"<DS>_A.txt (TU format) or one .mat network, or a .npz / .mat file, got {str(path)!r}. See "
                       "graphscale.datasets.custom and graphscale.datasets.hetero for the folder formats.")


def available(root: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """One row per registered dataset for ``graphscale datasets``.

    Each row: ``name``, ``task``, ``found`` (all files present, or generated), ``path`` (the folder when
    found) or ``url`` (where to download the first missing file), ``missing`` (file names), the known sizes
    (``num_nodes`` / ``num_edges`` / ``num_graphs`` / ``num_classes`` / ``num_features``) and ``description``.
    """
    base = data_root(root)
    rows = []
    for name in names():
        spec = REGISTRY[name]
        row: dict[str, Any] = {"name": name, "task": spec.task}
        if not spec.folder:
            row.update(found=True, path="generated (seeded)")
        else:
            folder = base / spec.folder
            missing = [f for f in spec.files if resolve(folder, f) is None]
            row.update(found=not missing, path=str(folder))
            if missing:
                row.update(missing=missing, url=spec.urls.get(missing[0], ""))
        row.update(spec.stats)
        row["description"] = spec.description
        rows.append(row)
    return rows
