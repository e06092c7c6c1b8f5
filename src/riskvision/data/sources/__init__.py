"""One record source per dataset (``base.RecordSource``): ``dota``, ``bdd``, ``ccd``, ``dad``, ``nexar`` and the
built-in ``synthetic`` set.

Import a source from its module (``riskvision.data.sources.dota.DotaSource``); ``conf/data/source/*.yaml``
configures each.
"""
