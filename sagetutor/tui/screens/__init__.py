"""One module per screen: home, practice, notes, help, dispute (and exam, review, lab).

Every mode's screen takes ``(pack: PackEntry | None = None, **kw)`` and is opened through
``SageTutorApp.open_mode``; modules are imported on first use.
"""
