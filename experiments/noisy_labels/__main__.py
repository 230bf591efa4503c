"""python -m experiments.noisy_labels --config {smoke,quick,default,gpu} --out DIR"""

from .main import main

raise SystemExit(main())
