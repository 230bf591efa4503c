"""python -m experiments.federated --config {smoke,quick,default,gpu} --out DIR"""

from .main import main

raise SystemExit(main())
