"""The app's shape (``toyood_app``, ``app.py``, ``serve.py``, ``app_pages/``): its modules sit in
layers and import only from lower ones, the pure-Python ones never import Streamlit, the library
never imports the app, pages import the app's modules but not each other, and every function and
module stays short."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "toyood_app"
SCRIPTS = [ROOT / "app.py", ROOT / "serve.py", *sorted((ROOT / "app_pages").glob("*.py"))]
# Each module's layer; a module imports only modules of lower layers. Layers 0-1 are pure Python.
LAYERS = {
    0: ["activity", "state", "lecture", "stores"],
    1: ["jobs", "link", "labels"],
    2: ["session", "running"],
    3: ["charts", "clicks", "controls", "sidebar", "views"],
    4: ["training"],
    5: ["warm", "stage"],
}
PURE_LAYERS = (0, 1)
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 400


def layer_of(name: str) -> int:
    found = [layer for layer, names in LAYERS.items() if name in names]
    assert found, f"toyood_app.{name} has no layer: add it to LAYERS in tests/test_architecture_app.py"
    return found[0]


def app_modules() -> list[str]:
    return sorted(file.stem for file in APP.glob("*.py") if file.stem != "__init__")


def imported(file: Path, package: str = "toyood_app") -> set[str]:
    """Every module ``file`` imports, as dotted names (relative imports resolved inside ``package``)."""
    found = set()
    for node in ast.walk(ast.parse(file.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names}
    return found


def app_imports(file: Path) -> set[str]:
    """The toyood_app modules ``file`` imports."""
    names = set(app_modules())
    return {name.split(".")[1] for name in imported(file)
            if name.startswith("toyood_app.") and name.split(".")[1] in names}


def test_every_app_module_has_a_layer():
    for name in app_modules():
        layer_of(name)


def test_app_imports_point_down_the_layers():
    wrong = [f"toyood_app.{name} (layer {layer_of(name)}) imports toyood_app.{target} (layer {layer_of(target)})"
             for name in app_modules() for target in app_imports(APP / f"{name}.py")
             if target != name and layer_of(target) >= layer_of(name)]
    assert not wrong, "\n".join(wrong)


def test_the_pure_modules_never_import_streamlit():
    for name in app_modules():
        if layer_of(name) in PURE_LAYERS:
            streamlit = {n for n in imported(APP / f"{name}.py") if n.split(".")[0] == "streamlit"}
            assert not streamlit, f"toyood_app.{name} is pure Python but imports {streamlit}"


def test_the_library_never_imports_the_app():
    for file in (ROOT / "toyood").rglob("*.py"):
        assert not any(n.split(".")[0] in ("toyood_app", "ui") for n in imported(file, "toyood")), file


def test_pages_import_the_app_not_each_other_and_ui_is_gone():
    assert not (ROOT / "ui.py").exists() and not (ROOT / "toyood" / "appstate.py").exists()
    for file in SCRIPTS:
        names = {n.split(".")[0] for n in imported(file)}
        assert not names & {"ui", "app", "serve", "app_pages"}, f"{file.name} imports {names}"


def test_app_functions_read_in_one_screen_and_modules_stay_short():
    long = []
    for file in [*APP.glob("*.py"), *SCRIPTS]:
        text = file.read_text()
        if text.count("\n") > MAX_MODULE_LINES:
            long.append(f"{file.relative_to(ROOT)} has {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{file.relative_to(ROOT)}:{node.lineno} {node.name} has {length} lines")
    assert not long, "\n".join(long)


def test_no_code_parses_progress_text():
    """The loss curve and previews come from the library's ``on_epoch`` callback, not from words."""
    for file in [*APP.glob("*.py"), *SCRIPTS]:
        tree = ast.parse(file.read_text())
        calls = {node.func.attr for node in ast.walk(tree)
                 if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)}
        assert not calls & {"search", "match", "findall", "fullmatch"}, f"{file.name} parses text"
