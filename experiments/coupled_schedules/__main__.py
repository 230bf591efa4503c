"""python -m experiments.coupled_schedules --config {smoke,quick,default,gpu} --out DIR"""

from .main import main

raise SystemExit(main())
