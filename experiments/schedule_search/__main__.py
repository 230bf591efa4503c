"""python -m experiments.schedule_search --config {smoke,quick,default,gpu} --out DIR"""

from .main import main

raise SystemExit(main())
