import subprocess
import sys

import promptcrop


def test_public_api_names_resolve():
    for name in promptcrop.__all__:
        assert getattr(promptcrop, name) is not None
    from promptcrop.predictor import Predictor

    assert promptcrop.Predictor is Predictor


def test_import_is_light():
    code = "import sys, promptcrop; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
