"""The rules engine: a shop's ordered mapping rules, applied on top of its default settings.

Modules, by what they hold: ``model`` (rules, conditions and actions as validated data),
``conditions`` (matching an order), ``templates`` (the field-template language, parsed by hand),
``fields`` (which Fortnox header, customer and row fields templates may set),
``actions`` (the first matching rule's actions -> ``ShopSettings``), ``store`` (versioned rule
sets and the latest order payloads), ``engine`` (rules around the planner, for the handler) and
``preview`` (a dry run). The admin API is ``services/mapper/routes.py``; docs/rules.md is the
merchant's guide.
"""
