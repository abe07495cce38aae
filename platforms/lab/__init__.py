"""The lab platform: a local Sangfor SCP/HCI simulator backed by real disk images.

Run it with `python manage.py runlab`; see docs/lab.md. It never imports Django models: it is
a separate process that only speaks HTTP, like a real cluster.
"""
