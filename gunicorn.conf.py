"""gunicorn reads this file from the working directory wherever it is started here (`make run`,
the image, compose, the load test): its control socket goes under var/, one per master process,
instead of the shared ~/.gunicorn/gunicorn.ctl where a second instance clashes with the first.
"""

import os
from pathlib import Path

_var_dir = Path(os.environ.get("BACKCARE_VAR_DIR") or Path(__file__).resolve().parent / "var")
_var_dir.mkdir(parents=True, exist_ok=True)

control_socket = str(_var_dir / f"gunicorn-{os.getpid()}.ctl")
