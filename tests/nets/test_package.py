import ast
from pathlib import Path

import nets

FORBIDDEN = {"prefect", "zarr", "mlflow", "storage", "tracking", "tasks", "flows", "gaitflow"}


def test_nets_imports_no_orchestration_storage_or_tracking():
    for path in Path(nets.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                roots = {node.module.split(".")[0]}
            else:
                continue
            assert not roots & FORBIDDEN, f"{path.name} imports {roots & FORBIDDEN}"
