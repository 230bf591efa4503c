"""python -m experiments.synchronized --config {smoke,quick,default,gpu} --out DIR"""

from .main import main

raise SystemExit(main())
