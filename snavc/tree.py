"""Tree: validated models -> the organisation tree and indexes by kind and ID.

Third stage. It places every object of the repository and of the catalogue in one
:class:`Tree`: the nodes (product -> partners -> clients -> sites, rule N1), every object
indexed by kind and ID, the overrides of each template, and the unit services of each
equipment. On the way it reports what only shows across documents: duplicate IDs,
dangling references, the tree's shape (N1), ``duplicate_of`` cycles, objects with no
configuring user, and two overrides of one template at one node (T2).
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import diagnostics as dg
from .diagnostics import Diagnostic, Location
from .model import AT_KINDS, CONFIGURED_KINDS, NODE_KINDS, Obj, Project
from .validate import _inner_model, did_you_mean

PRODUCT = "product"  # ID of the virtual root that holds the shipped catalogue (N1)

# Every reference an object holds: (path, target kind). "*" walks a list; "node" is any
# of Partner/Client/Site; "unit-service" is "<equipment>/<service name>". The rules
# engine reads the same table (L1: everything an object refers to).
_PERIODS = [(("periods", a), "TimePeriod") for a in ("check", "notification", "availability")]
_NOTIFY = [
    (("notification", "contacts", "*"), "Contact"),
    (("notification", "groups", "*"), "ContactGroup"),
    (("notification", "escalations", "*", "contacts", "*"), "Contact"),
    (("notification", "escalations", "*", "groups", "*"), "ContactGroup"),
]
_TEMPLATE_PERIODS = [(("availability_period",), "TimePeriod"), (("check_period",), "TimePeriod")]
_BY = [(("configured_by",), "User")]
REFERENCES: dict[str, list[tuple[tuple, str]]] = {
    "Project": [(("default_user",), "User")],
    "Client": [(("parent",), "node")],
    "Site": [(("parent",), "node")],
    "User": [(("role",), "Role")],
    "ContactGroup": [(("members", "*"), "Contact")],
    "Contact": [(("user",), "User")],
    "ServiceTemplate": [(("duplicate_of",), "ServiceTemplate"), *_TEMPLATE_PERIODS, *_BY],
    "ServiceTemplateOverride": [(("template",), "ServiceTemplate"), *_TEMPLATE_PERIODS, *_BY],
    "EquipmentTemplate": [
        (("duplicate_of",), "EquipmentTemplate"),
        (("services", "*"), "ServiceTemplate"),
        *_BY,
    ],
    "Equipment": [
        (("template",), "EquipmentTemplate"),
        (("templates", "*"), "EquipmentTemplate"),
        (("box",), "Box"),
        (("parents", "*"), "Equipment"),
        (("labels", "*"), "Label"),
        *_BY,
        (("accounts", "*"), "MonitoringAccount"),
        *_PERIODS,
        *_NOTIFY,
        (("services", "*", "template"), "ServiceTemplate"),
        (("services", "*", "availability_period"), "TimePeriod"),
        (("services", "*", "check_period"), "TimePeriod"),
        (("services", "*", "notification_period"), "TimePeriod"),
        (("services", "*", "labels", "*"), "Label"),
        (("services", "*", "accounts", "*"), "MonitoringAccount"),
        *[(("services", "*", *path), kind) for path, kind in _NOTIFY],
    ],
    "UserService": [
        *_BY,
        (("members", "*"), "unit-service"),
        (("components", "*", "host"), "Equipment"),
        (("components", "*", "service"), "unit-service"),
        (("components", "*", "user_service"), "UserService"),
        *_PERIODS,
        *_NOTIFY,
    ],
    "MaintenanceWindow": [
        *_BY,
        (("targets", "*"), "target"),
        (("planner",), "User"),
        (("notify", "contacts", "*"), "Contact"),
        (("notify", "groups", "*"), "ContactGroup"),
    ],
}
for _kind in AT_KINDS:
    REFERENCES.setdefault(_kind, []).insert(0, (("at",), "node"))


# kind -> the label users write in OBJECT arguments and reports (KIND/ID)
LABELS = {
    "Partner": "node",
    "Client": "node",
    "Site": "node",
    "Box": "box",
    "Contact": "contact",
    "ContactGroup": "contact-group",
    "TimePeriod": "time-period",
    "ServiceTemplate": "service-template",
    "ServiceTemplateOverride": "service-template-override",
    "EquipmentTemplate": "equipment-template",
    "MonitoringAccount": "monitoring-account",
    "Role": "role",
    "User": "user",
    "Equipment": "equipment",
    "UnitService": "unit-service",
    "UserService": "user-service",
    "Label": "label",
    "MaintenanceWindow": "maintenance-window",
}


def object_key(obj: Obj) -> str:
    """``label/ID`` of an input object; an override is ``service-template-override/T@NODE``."""
    if obj.kind == "ServiceTemplateOverride":
        return f"service-template-override/{obj.template}@{obj.at}"
    return f"{LABELS[obj.kind]}/{obj.id}"


def references(obj: Obj) -> Iterator[tuple[tuple, str, str]]:
    """``(path, target kind, ID)`` for every non-null reference ``obj`` holds, in the
    order of ``REFERENCES`` and, within a path with lists, in the order of their items."""
    walk = _WALKS.get(type(obj))
    if walk is None:
        walk = _WALKS[type(obj)] = _compile_walk(obj.kind, type(obj))
    return iter(walk(obj))


def reference_keys(obj: Obj, targets: frozenset[str]) -> list[str]:
    """``KIND/ID`` of each reference ``obj`` holds to an object of a kind in ``targets``
    (:func:`references` without the paths, for a dependency record)."""
    walk = _WALKS.get((type(obj), targets))
    if walk is None:
        walk = _WALKS[type(obj), targets] = _compile_walk(obj.kind, type(obj), targets)
    return walk(obj)


def _unresolved(obj: Obj, nodes: dict, index: dict) -> list[tuple[tuple, str, str]]:
    """The references of ``obj`` (as :func:`references` gives them) that do not name a
    node of ``nodes`` or an object of ``index`` (kind -> ID -> object); those to a unit
    service or a maintenance target, which take more than a lookup, are all kept."""
    walk = _WALKS.get((type(obj), None))
    if walk is None:
        walk = _WALKS[type(obj), None] = _compile_walk(obj.kind, type(obj), unresolved=True)
    return walk(obj, nodes, index)


# model class (and kinds kept, or None for the unresolved ones) -> the function
# listing its objects' references
_WALKS: dict = {}

# reference targets whose check is more than a lookup (_check_references)
_NOT_LOOKED_UP = ("unit-service", "target")


def _compile_walk(
    kind: str, model: type, targets: frozenset[str] | None = None, unresolved: bool = False
):
    """The function that lists the references of an object of ``kind``: one nested
    loop per path of ``REFERENCES[kind]``, written out as Python source and compiled
    once, rather than a generic walk that interprets each path for each object (the
    tree's checks and the build's dependency record read every reference of every
    object: 150,000 at 10k equipment, where the generic walk was most of the tree
    stage). An attribute that is missing or None ends its path, a "*" walks a list
    that is neither None nor empty: what the generic walk did, in the same order. A
    field the (sub)model declares is read as an attribute, anything else with getattr.
    With ``targets``, only the references to those kinds, as ``KIND/ID`` strings; with
    ``unresolved``, only those that :func:`_unresolved` keeps."""
    lines = ["def walk(obj):", "    out = []", "    add = out.append"]
    consts: dict[str, object] = {}
    tables = {"node": "nodes"}  # target kind -> the local name of its table
    if unresolved:
        lines[0] = "def walk(obj, nodes, index):"
        for t in sorted({t for _, t in REFERENCES.get(kind, ())} - {"node", *_NOT_LOOKED_UP}):
            tables[t] = f"K{len(tables)}"
            lines.append(f"    {tables[t]} = index.get({t!r}, ())")
    for n, (spec, target) in enumerate(REFERENCES.get(kind, ())):
        if targets is not None and target not in targets:
            continue
        consts[f"T{n}"] = target if targets is None else f"{target}/"
        if "*" not in spec:
            consts[f"S{n}"] = spec
        indent, var, path, depth, cls = "    ", "obj", [], 0, model
        for head in spec:
            if head == "*":
                lines.append(f"{indent}if {var}:")
                lines.append(f"{indent}    for i{depth}, x{depth} in enumerate({var}):")
                path.append(f"i{depth}")
                var, indent = f"x{depth}", indent + "        "
            elif cls is not None and head in cls.model_fields and head.isidentifier():
                lines.append(f"{indent}v{depth} = {var}.{head}")
                lines.append(f"{indent}if v{depth} is not None:")
                path.append(repr(head))
                var, indent = f"v{depth}", indent + "    "
                cls = _inner_model(cls.model_fields[head].annotation)
            else:
                cls = None
                lines.append(f"{indent}v{depth} = getattr({var}, {head!r}, None)")
                lines.append(f"{indent}if v{depth} is not None:")
                path.append(repr(head))
                var, indent = f"v{depth}", indent + "    "
            depth += 1
        if spec[-1] == "*":
            lines.append(f"{indent}if {var} is not None:")
            indent += "    "
        if targets is not None:
            lines.append(f"{indent}add(T{n} + {var})")
            continue
        if unresolved and target not in _NOT_LOOKED_UP:
            lines.append(f"{indent}if {var} not in {tables[target]}:")
            indent += "    "
        where = f"S{n}" if "*" not in spec else f"({', '.join(path)},)"
        lines.append(f"{indent}add(({where}, T{n}, {var}))")
    lines.append("    return out")
    namespace: dict = dict(consts)
    exec(compile("\n".join(lines), f"<references of {kind}>", "exec"), namespace)  # noqa: S102
    return namespace["walk"]


@dataclass(slots=True, eq=False)
class Node:
    """A node of the organisation tree: the product, a partner, a client or a site."""

    id: str
    kind: str  # "product" | "partner" | "client" | "site"
    name: str
    parent: Node | None = None
    obj: Obj | None = None
    children: list[Node] = field(default_factory=list)
    # product first, this node last (N3: path(product -> self))
    path: tuple[Node, ...] = ()
    # len(path) - 1, set with it: read for every reference of every unit service (L5)
    depth: int = -1

    @property
    def company(self) -> Node:
        """N2: a site's client; a client or partner itself."""
        return self.parent if self.kind == "site" else self

    @property
    def partner(self) -> Node | None:
        return self.path[1] if len(self.path) > 1 else None

    @property
    def mode(self) -> str | None:
        """M1/M2: a client's mode; a site inherits its client's; none above clients."""
        c = self.company
        return c.obj.mode if c.kind == "client" else None

    def is_ancestor_or_self(self, other: Node) -> bool:
        """``self`` is ``other`` or above it ("at least at the same level", N3)."""
        return len(other.path) > self.depth and other.path[self.depth] is self

    def __repr__(self) -> str:
        return f"Node({self.id!r})"


@dataclass(slots=True)
class Tree:
    project: Project
    product: Node
    nodes: dict[str, Node]
    objects: dict[str, dict[str, Obj]]  # kind -> ID -> object (repository and catalogue)
    overrides: dict[str, dict[str, Obj]]  # template ID -> node ID -> override
    unit_services: dict[str, list[str]]  # equipment ID -> unit service names, in order
    diagnostics: list[Diagnostic]
    # a tree from the snapshot cache holds no equipment nor user service: ID ->
    # (kind, file) and a loader that reads one when it is asked for (snavc.engine.cache)
    leaf_index: dict[str, list] = field(default_factory=dict)
    leaf_loader: Any = None
    # (kind, ID) of the objects known but broken (build_tree's ``rejected``): an
    # equipment made from a broken template has unknown unit services (issue 11)
    broken: frozenset = frozenset()

    def get(self, kind: str, ident: str) -> Obj | None:
        found = self.objects.get(kind, {}).get(ident)
        if found is None and self.leaf_loader is not None and ident in self.leaf_index:
            if self.leaf_index[ident][0] == kind:
                found = self.leaf_loader(kind, ident)
                if found is not None:
                    self.objects.setdefault(kind, {})[ident] = found
        return found

    def node_of(self, obj: Obj) -> Node:
        """Where an object is defined: its ``at`` node, or the product (catalogue)."""
        at = getattr(obj, "at", None)
        return self.nodes[at] if at is not None else self.product

    def configurer(self, obj: Obj) -> str | None:
        return getattr(obj, "configured_by", None) or self.project.default_user


def _where(obj: Obj, *path, key=False, message="") -> Location:
    return obj.doc.loc(*path, key=key, message=message)


def _label(obj: Obj) -> str:
    if obj.kind == "ServiceTemplateOverride":
        return f"override of '{obj.template}' at '{obj.at}'"
    if obj.kind == "Project":
        return "Project"  # the one object without an ID
    return f"{obj.kind} '{getattr(obj, 'id', '')}'"


def build_tree(
    objects: list[Obj],
    catalog: list[Obj],
    rejected: set[tuple[str, str]] = frozenset(),
    checks: bool = True,
    known: Mapping[str, list[str]] | None = None,
    check_only: list[Obj] | None = None,
    incumbent=None,
    known_parents: dict[str, tuple] | None = None,
    lazy: dict | None = None,
    known_leaves: Mapping[str, Mapping] | None = None,
) -> Tree:
    """Index, link and check ``objects`` (the repository) and ``catalog`` (the product).

    ``rejected`` names the documents validation refused: references to them are
    reported as references to broken objects, not as dangling. ``checks=False`` only
    links and indexes (for a snapshot known to be clean). ``known`` gives the unit
    service names of equipment defined outside ``objects`` (the unchanged files of an
    incremental build: snavc.engine.incremental), which user services may name, and
    ``check_only`` the objects whose references to check (there, the dirty ones: the
    others are those of a clean build), and ``known_parents`` the parents of the
    equipment outside ``objects`` (for H4's cycles). ``incumbent(obj) -> bool`` tells
    the objects that were there before the change under review (``snavc plan``: those
    of the base revision): of two definitions of one ID, the new one gets the error and
    the old one stays in the tree, so that later rules speak of the object that was there.
    ``lazy`` gives whole tables of kinds not in ``objects`` (``kind -> ID -> object``,
    whose models are made when first read: snavc.engine.cache.LazyKind), indexed as
    they are: their IDs unique, their places in the tree (an incremental build's
    unchanged contacts and boxes, checked by the clean build that left them).
    ``known_leaves`` gives, per kind (equipment, user services), the objects outside
    ``objects`` as ``ID -> object with its 'at'``, read when asked for: the candidates a
    dangling reference's did-you-mean is chosen among are then those of a tree of every
    one of them.
    """
    diags: list[Diagnostic] = []
    projects = [o for o in objects if o.kind == "Project"]
    for extra in projects[1:]:
        diags.append(
            dg.error(
                "SNV301",
                "duplicate Project: a repository has one, in snav.yaml",
                _where(extra, "kind"),
                related=(_where(projects[0], "kind", message="first Project"),),
            )
        )
    project = projects[0] if projects else Project(kind="Project")

    index: dict[str, dict[str, Obj]] = {}
    overrides: dict[str, dict[str, Obj]] = {}
    for obj in [*catalog, *objects]:
        if obj.kind == "Project":
            continue
        if obj.kind == "ServiceTemplateOverride":
            at = overrides.setdefault(obj.template, {})
            if obj.at in at:
                diags.append(
                    dg.error(
                        "SNV306",
                        f"a second override of '{obj.template}' at '{obj.at}': a node holds at most one "
                        "override per template; merge their fields",
                        _where(obj, "template"),
                        rule="T2",
                        related=(_where(at[obj.at], "template", message="first override"),),
                    )
                )
            else:
                at[obj.at] = obj
            continue
        space = "node" if obj.kind in NODE_KINDS else obj.kind
        table = index.setdefault(space, {})
        first = table.get(obj.id)
        if first is None:  # the usual case
            table[obj.id] = obj
            continue
        note = "first defined " + (
            "in the product catalogue" if first is not None and first.doc.catalog else "here"
        )
        if (
            first is not None
            and incumbent is not None
            and not first.doc.catalog
            and incumbent(obj)
            and not incumbent(first)
        ):
            # the definition the change adds is the one in error, wherever it sorts
            table[obj.id], obj, first = obj, first, obj
            note = "defined here before this change"
        if first is not None:
            what = f"{obj.kind} '{obj.id}' is already defined" + (
                f" as a {first.kind}" if first.kind != obj.kind else ""
            )
            if first.doc.catalog:
                what += " by the product catalogue" + (
                    "; use a ServiceTemplateOverride to change it"
                    if obj.kind == "ServiceTemplate"
                    else ""
                )
            diags.append(
                dg.error(
                    "SNV301",
                    f"duplicate ID: {what}",
                    _where(obj, "id"),
                    related=(_where(first, "id", message=note),),
                )
            )
            continue
        table[obj.id] = obj

    for kind, table in (lazy or {}).items():
        # (definitions of a lazy kind among ``objects``: an incremental build's duplicate
        # IDs, checked above as any other)
        index[kind] = table.taking(index[kind].values()) if index.get(kind) else table
    nodes, product = _link_nodes(index.get("node", {}), diags)
    # Objects placed at a node that is not in the tree (a dangling `at`, a broken parent
    # chain) are reported below and kept out: the rules only see placed objects.
    objects_by_kind: dict[str, dict[str, Obj]] = {}
    for space, table in index.items():
        if lazy and space in lazy:
            objects_by_kind[space] = table.placed(nodes)
            continue
        for obj in table.values():
            if space == "node":
                if obj.id in nodes:
                    objects_by_kind.setdefault(obj.kind, {})[obj.id] = obj
            elif _placed(obj, nodes):
                objects_by_kind.setdefault(space, {})[obj.id] = obj
    placed_overrides = {
        t: {at: o for at, o in by_at.items() if at in nodes} for t, by_at in overrides.items()
    }

    tree = Tree(project, product, nodes, objects_by_kind, placed_overrides, {}, diags)
    tree.broken = frozenset(rejected)
    _check_duplicate_cycles(tree, "ServiceTemplate")
    _check_duplicate_cycles(tree, "EquipmentTemplate")
    tree.unit_services = _unit_services(tree)
    _check_hosts(tree, objects if check_only is None else check_only, known_parents or {})
    _check_components(tree)
    if known and isinstance(known, dict):
        tree.unit_services = {**known, **tree.unit_services}
    elif known:  # (a warm build's: read when asked for, snavc.engine.incremental)
        tree.unit_services = ChainMap(tree.unit_services, known)
    if not checks:  # a tree rebuilt from a clean snapshot (snavc.engine.cache): nothing to report
        return tree
    if check_only is not None:
        objects = check_only
        overrides = {}
        for o in check_only:  # an edited override (incremental build)
            if o.kind == "ServiceTemplateOverride":
                overrides.setdefault(o.template, {})[o.at] = o
    scopes: dict = {}  # candidates for a did-you-mean, per (table, place)
    for kind, known in (known_leaves or {}).items():  # (a warm build's unchanged files')
        index = {**index, kind: ChainMap(index.get(kind, {}), known)}
    for obj in [o for o in objects if o.kind != "ServiceTemplateOverride"] + [
        o for by_at in overrides.values() for o in by_at.values()
    ]:
        _check_references(tree, obj, index, rejected, scopes)
    # a broken snav.yaml (rejected holds its Project) may set default_user: unknown
    project_broken = any(kind == "Project" for kind, _ in rejected)
    for obj in objects:
        if obj.kind in CONFIGURED_KINDS and tree.configurer(obj) is None and not project_broken:
            diags.append(
                dg.error(
                    "SNV305",
                    f"{_label(obj)} has no configuring user: set 'configured_by', "
                    "or 'default_user' in snav.yaml",
                    _where(obj),
                )
            )
    return tree


def _placed(obj: Obj, nodes: dict[str, Node]) -> bool:
    at = getattr(obj, "at", None)
    return at is None or at in nodes


def _link_nodes(table: dict[str, Obj], diags: list[Diagnostic]) -> tuple[dict[str, Node], Node]:
    """N1: product -> partners -> clients -> sites, nothing else."""
    product = Node(PRODUCT, "product", "product")
    product.path, product.depth = (product,), 0
    nodes: dict[str, Node] = {PRODUCT: product}
    for obj in table.values():
        if obj.id == PRODUCT:
            diags.append(
                dg.error(
                    "SNV303",
                    f"'{PRODUCT}' is reserved for the virtual root of the tree; choose another ID",
                    _where(obj, "id"),
                    rule="N1",
                )
            )
            continue
        nodes[obj.id] = Node(obj.id, obj.kind.lower(), obj.name, obj=obj)
    expected = {"client": "partner", "site": "client"}
    for node in list(nodes.values()):
        if node.kind == "partner":
            node.parent = product
        elif node.kind in expected:
            parent = nodes.get(node.obj.parent)
            if parent is None:
                continue  # a dangling reference, reported with the others
            if parent.kind != expected[node.kind]:
                diags.append(
                    dg.error(
                        "SNV303",
                        f"{node.obj.kind} '{node.id}' has parent {parent.obj.kind if parent.obj else 'product'} "
                        f"'{parent.id}': a {node.kind}'s parent must be a {expected[node.kind]} "
                        "(product -> partners -> clients -> sites)",
                        _where(node.obj, "parent"),
                        rule="N1",
                    )
                )
                continue
            node.parent = parent
    # paths, top-down (a partner before its clients before their sites)
    for kind in ("partner", "client", "site"):
        for node in nodes.values():
            if node.kind == kind and node.parent is not None and node.parent.path:
                node.path = node.parent.path + (node,)
                node.depth = len(node.path) - 1
                node.parent.children.append(node)
    # a node whose chain is broken stays out of the tree (its objects still validate)
    for ident in [i for i, n in nodes.items() if not n.path]:
        del nodes[ident]
    for node in nodes.values():
        node.children.sort(key=lambda n: n.id)
    return nodes, product


def _check_references(
    tree: Tree,
    obj: Obj,
    index: dict[str, dict[str, Obj]],
    rejected: set[tuple[str, str]] = frozenset(),
    scopes: dict | None = None,
) -> None:
    """Every reference of ``obj`` names an object that exists. A reference to an object
    that exists but is broken (``rejected``: refused by validation, or in a file that
    failed to load) is not an error: that object's own errors are the root cause, and
    reporting each reference to it would bury them (issue 11: one tab, 443 errors).
    A did-you-mean only ever names an object the user could have meant: one of the
    same kind (a parent of the right level), visible from where ``obj`` is placed."""
    for path, target, ident in _unresolved(obj, tree.nodes, index):
        if target == "node":
            if ident in tree.nodes:
                continue
        elif target != "unit-service" and ident in index.get(target, ()):
            continue
        kinds = NODE_KINDS if target == "node" else (target,)
        if rejected and any((k, ident) in rejected for k in kinds):
            continue  # known but broken: its own errors say why
        note = ""
        if target == "node":
            known = index.get("node", {})
            if ident in known:
                continue  # exists, but out of the tree: its own N1 error says why
            candidates = _node_candidates(tree, obj, path)
            what = "node"
        elif target == "target" and "/" not in ident:  # W2: a host
            if ident in index.get("Equipment", {}) or ident in tree.unit_services:
                continue
            if rejected and ("Equipment", ident) in rejected:
                continue  # the equipment is broken: its own errors say why
            candidates = list(index.get("Equipment", {}))
            what = "equipment"
        elif target in ("unit-service", "target"):
            eq, _, name = ident.partition("/")
            names = tree.unit_services.get(eq)
            if names is not None and name in names:
                continue
            if names is None and rejected and ("Equipment", eq) in rejected:
                continue  # its equipment is broken
            if names is None and eq in index.get("Equipment", ()):
                continue  # its equipment exists, out of the tree: its own errors say why
            what = "unit service"
            if names is None:
                candidates = [
                    f"{e}/{n}"
                    for e in _in_scope(tree, obj, index.get("Equipment", {}), scopes, below=True)
                    for n in tree.unit_services.get(e, ())
                ]
                note = f" (no equipment '{eq}')"
            else:
                candidates = [f"{eq}/{n}" for n in names]
                note = f" (equipment '{eq}' has {', '.join(names) or 'no unit service'})"
        else:
            if target == "Equipment" and ident in tree.unit_services:
                continue  # an equipment of the unchanged files (incremental build)
            candidates = _in_scope(tree, obj, index.get(target, {}), scopes)
            what = target
        elsewhere = [
            o.kind
            for space, table in index.items()
            if space != target and (o := table.get(ident)) is not None
        ]
        if obj.kind == "ServiceTemplateOverride" and "EquipmentTemplate" in elsewhere:
            # T2: the template exists, but equipment templates are never overridden
            tree.diagnostics.append(
                dg.error(
                    "SNV302",
                    f"{_label(obj)}: '{ident}' is an equipment template, and only service "
                    "templates can be overridden; create a new one from it with duplicate_of "
                    "instead (T7)",
                    _where(obj, *path),
                    rule="T2",
                )
            )
            continue
        hint = did_you_mean(ident, candidates)
        if not hint and elsewhere:
            hint = f" (there is a {elsewhere[0]} '{ident}')"
        tree.diagnostics.append(
            dg.error(
                "SNV302",
                f"{_label(obj)} refers to {what} '{ident}', which does not exist{note}{hint}",
                _where(obj, *path),
            )
        )


# a node's parent is one level up (N1): a Site's parent can only be a client
_PARENT_KIND = {"Client": "partner", "Site": "client"}


def _node_candidates(tree: Tree, obj: Obj, path: tuple) -> list[str]:
    """The nodes a reference at ``path`` could have meant: a parent of the right level,
    else any node of the tree."""
    level = _PARENT_KIND.get(obj.kind) if path == ("parent",) else None
    if level is None:
        return list(tree.nodes)
    return [i for i, n in tree.nodes.items() if n.kind == level]


def _in_scope(
    tree: Tree, obj: Obj, table: dict[str, Obj], scopes: dict | None = None, below: bool = False
) -> list[str]:
    """The IDs of ``table`` a reference from ``obj`` could have meant: those placed on
    the path from the product to where ``obj`` is placed (an object at another client
    is never selectable there, so never a good suggestion; V2-V4 narrow further, by
    user, in the rules), and with ``below`` those placed under it too (a user
    service's members: equipment of its sites). Everything when ``obj`` has no place
    in the tree."""
    node = tree.nodes.get(getattr(obj, "at", None) or "")
    if node is None and obj.kind in _PARENT_KIND | {"Partner": None}:
        node = tree.nodes.get(obj.id)
    key = (id(table), node.id if node is not None else None, below)
    if scopes is not None and key in scopes:
        return scopes[key]  # many references from one place: one pass over the table
    if node is None:
        found = list(table)
    else:
        on_path = {n.id for n in node.path}
        if below:
            under = [n.id for n in tree.nodes.values() if node in n.path]
            on_path.update(under)
        found = [i for i, o in table.items() if (getattr(o, "at", None) or PRODUCT) in on_path]
    if scopes is not None:
        scopes[key] = found
    return found


def _check_duplicate_cycles(tree: Tree, kind: str) -> None:
    """``duplicate_of`` must not loop; a loop is named whole (a -> b -> c -> a), once.

    One colouring pass (linear in the number of templates, habit 6): each walk follows
    ``duplicate_of`` through templates not seen yet; it stops at a template an earlier
    walk finished (its chain is known: no new loop down there) or at one of its own
    (a loop: from that template to the end of the walk).
    """
    table = tree.objects.get(kind, {})
    done: set[str] = set()
    for start in sorted(table):
        chain: list[str] = []
        on_walk: dict[str, int] = {}
        cur: str | None = start
        while cur is not None and cur in table and cur not in done:
            if cur in on_walk:
                loop = chain[on_walk[cur] :] + [cur]
                first = table[loop[0]]
                tree.diagnostics.append(
                    dg.error(
                        "SNV304",
                        f"{kind} duplicate_of cycle: {' -> '.join(loop)}",
                        _where(first, "duplicate_of"),
                        rule="T7",
                        related=tuple(
                            _where(
                                table[t],
                                "duplicate_of",
                                message=f"{t} duplicates {table[t].duplicate_of}",
                            )
                            for t in loop[1:-1]
                        ),
                    )
                )
                break
            on_walk[cur] = len(chain)
            chain.append(cur)
            cur = table[cur].duplicate_of
        done.update(chain)


def _check_hosts(tree: Tree, objects: list[Obj], known_parents: dict[str, tuple]) -> None:
    """H4: parent hosts form no cycle (a host that is its own ancestor), named whole;
    H6: two equipment never share a ``servicenav_id``. ``known_parents`` gives the
    parents of equipment not in the tree (an incremental build's untouched ones)."""
    table = tree.objects.get("Equipment", {})
    if not any(o.kind == "Equipment" and (o.parents or o.servicenav_id) for o in objects):
        return  # the usual case: no equipment of these objects has either
    by_snid: dict[str, Obj] = {}
    for eq in sorted(table.values(), key=lambda o: (o.doc.file, o.doc.line)):
        if eq.servicenav_id is None:
            continue
        first = by_snid.setdefault(eq.servicenav_id, eq)
        if first is not eq:
            tree.diagnostics.append(
                dg.error(
                    "SNV308",
                    f"Equipment '{eq.id}' has servicenav_id '{eq.servicenav_id}', already the ID of "
                    f"Equipment '{first.id}': a product ID names one host",
                    _where(eq, "servicenav_id"),
                    rule="H6",
                    related=(_where(first, "servicenav_id", message="first host with that ID"),),
                )
            )
    parents_of = dict(known_parents)
    parents_of.update((i, tuple(eq.parents)) for i, eq in table.items() if eq.parents)
    reported: set[str] = set()
    done: set[str] = set()  # hosts whose ancestors hold no cycle
    for start in sorted(i for i, eq in table.items() if eq.parents):
        if start in done:
            continue
        # depth-first over parents, the current chain kept to name a loop whole
        stack = [(start, iter(parents_of[start]))]
        on_chain = {start: 0}
        chain = [start]
        while stack:
            ident, parents = stack[-1]
            nxt = next(parents, None)
            if nxt is None:
                stack.pop()
                done.add(chain.pop())
                del on_chain[ident]
                continue
            if nxt in done:
                continue
            if nxt in on_chain:
                loop = chain[on_chain[nxt] :] + [nxt]
                if not reported.intersection(loop):
                    _report_cycle(tree, table, loop)
                reported.update(loop)
                continue
            on_chain[nxt] = len(chain)
            chain.append(nxt)
            stack.append((nxt, iter(parents_of.get(nxt, ()))))


def _check_components(tree: Tree) -> None:
    """U3: user services made of user services form no cycle, named whole."""
    table = tree.objects.get("UserService", {})
    uses = {
        i: [c.user_service for c in us.components if c.user_service is not None]
        for i, us in table.items()
        if us.components
    }
    if not any(uses.values()):
        return
    reported: set[str] = set()
    for start in sorted(uses):
        chain, seen = [start], {start}
        stack = [iter(uses[start])]
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                stack.pop()
                seen.discard(chain.pop())
                continue
            if nxt in seen:
                loop = chain[chain.index(nxt) :] + [nxt]
                if loop[0] == start and not reported.intersection(loop):
                    first = table[start]
                    i = next(k for k, c in enumerate(first.components) if c.user_service == loop[1])
                    tree.diagnostics.append(
                        dg.error(
                            "SNV309",
                            f"user service component cycle: {' -> '.join(loop)}: a user service "
                            "cannot be made of itself",
                            _where(first, "components", i, "user_service"),
                            rule="U3",
                        )
                    )
                    reported.update(loop)
                continue
            if nxt in uses and len(chain) < len(uses) + 1:
                chain.append(nxt)
                seen.add(nxt)
                stack.append(iter(uses[nxt]))


def _report_cycle(tree: Tree, table: dict[str, Obj], loop: list[str]) -> None:
    """SNV307 at the first link of ``loop`` (a, b, ..., a) that is in the tree."""
    links = [(a, b) for a, b in zip(loop, loop[1:], strict=False) if a in table]
    (a, b), rest = links[0], links[1:]
    first = table[a]
    tree.diagnostics.append(
        dg.error(
            "SNV307",
            f"parent cycle: {' -> '.join(loop)} (each host's parent listed next): "
            "a host cannot be its own ancestor",
            _where(first, "parents", first.parents.index(b)),
            rule="H4",
            related=tuple(
                _where(
                    table[x], "parents", table[x].parents.index(y), message=f"{x} has parent {y}"
                )
                for x, y in rest
            ),
        )
    )


def equipment_template_services(
    tree: Tree, template_id: str | None, memo: dict[str | None, tuple[str, ...]] | None = None
) -> list[str]:
    """The service template IDs an equipment template gives, following duplicate_of (T7, T9).

    Iterative; with ``memo`` (template ID -> answer), every template on the walk is
    remembered, so answering for every template of a long chain stays linear.
    """
    table = tree.objects.get("EquipmentTemplate", {})
    memo = {} if memo is None else memo
    walked: list[str | None] = []
    seen = set()
    found: tuple[str, ...] = ()
    while template_id is not None and template_id in table and template_id not in seen:
        if template_id in memo:
            found = memo[template_id]
            break
        seen.add(template_id)
        walked.append(template_id)
        tmpl = table[template_id]
        if tmpl.services is not None:
            found = tuple(tmpl.services)
            break
        template_id = tmpl.duplicate_of
    for t in walked:
        memo[t] = found
    return list(found)


def template_broken(tree: Tree, template_id: str | None) -> bool:
    """Whether an equipment template is known but broken, or is a duplicate (T7) of one:
    the services it gives are then unknown (issue 11: no cascade from them)."""
    if not tree.broken:
        return False
    table = tree.objects.get("EquipmentTemplate", {})
    seen = set()
    while template_id is not None and template_id not in seen:
        if ("EquipmentTemplate", template_id) in tree.broken:
            return True
        tmpl = table.get(template_id)
        if tmpl is None:
            return False
        seen.add(template_id)
        template_id = tmpl.duplicate_of
    return False


def services_unknown(tree: Tree, eq: Obj) -> bool:
    """Whether an equipment's unit services are unknown: one of its templates is broken."""
    return bool(tree.broken) and any(template_broken(tree, t) for t in eq.template_ids)


def _unit_services(tree: Tree) -> dict[str, list[str]]:
    """Equipment ID -> unit service names: its template's, then its own (T9). An
    equipment made from a broken template is left out: its names are unknown, and a
    reference to one of them is not dangling (its template's errors say why)."""
    memo: dict[str | None, tuple[str, ...]] = {}
    return {
        eq.id: unit_service_names(tree, eq, memo)
        for eq in tree.objects.get("Equipment", {}).values()
        if not services_unknown(tree, eq)
    }


def unit_service_names(tree: Tree, eq: Obj, memo: dict | None = None) -> list[str]:
    names = [n for t in eq.template_ids for n in equipment_template_services(tree, t, memo)]
    return names + [s.name or s.template for s in eq.services]


def equipment_template_field(tree: Tree, template_id: str | None, name: str):
    """An equipment template's own ``name`` field, else its duplicate source's (T7)."""
    table = tree.objects.get("EquipmentTemplate", {})
    seen = set()
    while template_id is not None and template_id in table and template_id not in seen:
        seen.add(template_id)
        tmpl = table[template_id]
        value = getattr(tmpl, name)
        if value is not None:
            return value, tmpl
        template_id = tmpl.duplicate_of
    return None, None
