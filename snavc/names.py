"""Names the command line offers before any stage runs: the kinds `query --kind` takes
and the actions `query --action` takes.

They live here, apart from the rules that use them (:mod:`snavc.resolve.scope`), so that
``snavc --help`` and the parsing of a command's options do not import the models, the
rules engine and pydantic (docs/performance.md, "Start-up").
"""

# Kinds selectable at a node (V3), by the names `query selectable --kind` takes.
KIND_NAMES = {
    "contact": "Contact",
    "contact-group": "ContactGroup",
    "time-period": "TimePeriod",
    "service-template": "ServiceTemplate",
    "equipment-template": "EquipmentTemplate",
    "box": "Box",
    "monitoring-account": "MonitoringAccount",
    "label": "Label",
}

# V1a: what each action needs; `query selectable` asks for configure_equipment by default.
ACTIONS = {
    "equipment": "configure_equipment",
    "services": "configure_services",
    "templates": "create_templates",
}
