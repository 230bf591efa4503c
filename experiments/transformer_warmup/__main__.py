"""python -m experiments.transformer_warmup --config {smoke,quick,default,gpu} --out DIR"""

from .main import main

raise SystemExit(main())
