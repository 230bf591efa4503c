"""python -m experiments.lottery_tickets --config {smoke,quick,default,gpu,anchor} --out DIR"""

from .main import main

raise SystemExit(main())
