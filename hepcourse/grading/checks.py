"""Helpers for the test cells of the assignments: checks that fail with a message that teaches.

A bare ``assert`` tells a learner only that something is wrong. These helpers say what was
expected, what came out, and (``hint``) the likely mistake::

    expect_close("AUC of the exact ratio", auc, 0.8365, atol=0.004,
                 hint="did you swap signal and background?")
"""

from __future__ import annotations

import ast
import builtins
import inspect
import textwrap
import types

import numpy as np

__all__ = ["CheckFailed", "expect", "expect_finite", "expect_shape", "expect_close", "expect_in_range",
           "expect_call", "expect_own_implementation", "used_names"]


class CheckFailed(AssertionError):
    """A test of an assignment failed; the message is meant for the learner."""


def _fail(message: str, hint: str = "") -> None:
    raise CheckFailed(message + (f"\nHint: {hint}" if hint else ""))


def expect(condition: bool, message: str, hint: str = "") -> None:
    """Fail with ``message`` unless ``condition`` holds."""
    if not bool(condition):
        _fail(message, hint)


def expect_finite(what: str, value, hint: str = "") -> np.ndarray:
    """Fail unless ``value`` converts to a finite float array; return that array."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        _fail(f"{what}: expected numbers, got {type(value).__name__} {value!r:.80}", hint)
    if not np.all(np.isfinite(arr)):
        _fail(f"{what}: contains NaN or infinity", hint)
    return arr


def expect_shape(what: str, value, shape: tuple) -> np.ndarray:
    """Fail unless ``value`` is an array of ``shape``; return it as a float array."""
    arr = np.asarray(value)
    if arr.shape != tuple(shape):
        _fail(f"{what}: expected an array of shape {tuple(shape)}, got shape {arr.shape}")
    return arr


def _pair(expected: float, got: float) -> str:
    """``expected …, got …`` with enough digits that the two differ in print, and the difference."""
    digits = 6
    while digits < 17 and f"{expected:.{digits}g}" == f"{got:.{digits}g}" and expected != got:
        digits += 1
    text = f"expected {expected:.{digits}g}, got {got:.{digits}g}"
    if digits > 6:
        text += f" (they differ by {abs(got - expected):.2g})"
    return text


def expect_close(what: str, got, expected, *, atol: float = 0.0, rtol: float = 1e-7, hint: str = "") -> None:
    """Fail unless ``|got − expected| ≤ atol + rtol·|expected|`` element-wise.

    The message prints as many digits as it takes to see the difference (``expected -2.250851,
    got -2.2508506 (they differ by 4.2e-07)``), never two equal-looking numbers.
    """
    got_arr = expect_finite(what, got, hint)
    exp_arr = np.asarray(expected, dtype=float)
    if got_arr.shape != exp_arr.shape and got_arr.size != 1 and exp_arr.size != 1:
        _fail(f"{what}: expected shape {exp_arr.shape}, got {got_arr.shape}", hint)
    bad = np.abs(got_arr - exp_arr) > atol + rtol * np.abs(exp_arr)
    if np.any(bad):
        if got_arr.size == 1 and exp_arr.size == 1:
            detail = _pair(float(exp_arr.reshape(())), float(got_arr.reshape(())))
        else:
            shape = np.broadcast(got_arr, exp_arr).shape
            full_bad = np.broadcast_to(bad, shape)
            err = np.where(full_bad, np.abs(np.broadcast_to(got_arr, shape) - np.broadcast_to(exp_arr, shape)), -1.0)
            i = np.unravel_index(np.argmax(err), shape)       # the worst value
            detail = (f"{int(np.sum(full_bad))} of {full_bad.size} values differ; the largest difference at index "
                      f"{tuple(int(k) for k in i)}: "
                      + _pair(float(np.broadcast_to(exp_arr, shape)[i]), float(np.broadcast_to(got_arr, shape)[i])))
        tol = f" (tolerance {atol:g} + {rtol:g}·|expected|)" if atol or rtol else ""
        _fail(f"{what}: {detail}{tol}", hint)


def expect_in_range(what: str, got, low: float, high: float, hint: str = "") -> None:
    """Fail unless ``low ≤ got ≤ high``."""
    value = float(expect_finite(what, got, hint))
    if not low <= value <= high:
        _fail(f"{what}: expected a value in [{low:.6g}, {high:.6g}], got {value:.6g}", hint)


def expect_call(what: str, func, *args, hint: str = "", **kwargs):
    """Return ``func(*args, **kwargs)``; an error it raises becomes a failure that says where.

    ``NotImplementedError`` (an unanswered part) passes through unchanged.
    """
    try:
        return func(*args, **kwargs)
    except (CheckFailed, NotImplementedError):
        raise
    except Exception as err:  # noqa: BLE001  (any error of the learner's code is reported)
        _fail(f"{what} raised {type(err).__name__}: {err}", hint)


def expect_own_implementation(func, forbidden: tuple[str, ...] = ("hepcourse",), why: str = "") -> None:
    """Fail if ``func`` calls, imports or reads one of the ``forbidden`` names.

    The check looks at what the code *does*, from its syntax tree (:func:`used_names`): the
    functions it calls, the attributes it reads, the modules and names it imports (also through
    ``getattr(obj, "name")``, ``__import__("m")`` and ``importlib.import_module("m")``), followed
    into the notebook's own helper functions and classes that ``func`` uses. Comments, docstrings,
    strings and the names of your own variables never count, so ``# unlike scipy's logpdf`` or a
    variable ``log_prob`` is fine, while ``stats.norm.logpdf(x)``, ``from scipy.stats import norm``
    and ``import torch.distributions as D; D.Normal(...)`` are caught.

    A ``forbidden`` entry without a dot (``"logpdf"``, ``"hepcourse"``) matches any component of a
    used dotted name (``scipy.stats.norm.logpdf``, ``hepcourse.metrics.auc``); a dotted entry
    (``"torch.distributions"``) matches a run of components (``torch.distributions.Normal``).
    Module aliases are resolved (``F.conv2d`` is ``torch.nn.functional.conv2d``).

    Not caught (the check is a teaching aid, not a sandbox): code built from strings at run time
    (``eval``, ``exec``), lookups through ``__dict__`` or ``globals()``, and functions handed in
    from outside through arguments or containers.

    ``why`` says why the part must be implemented by hand; it goes into the failure message.
    """
    origin = f"{getattr(func, '__module__', None) or ''}.{getattr(func, '__qualname__', '')}"
    hit = next((f for f in forbidden if _matches(f, origin)), None)
    if hit is not None:                  # the function itself was imported, e.g. from hepcourse.decorrelation
        _fail(f"{getattr(func, '__name__', repr(func))} is {origin}, imported rather than written here. Not allowed "
              "in this part: " + (why or "it asks you to implement this yourself (the library's version is what "
                                          "the tests compare with)."))
    uses = used_names(func)
    bad = []
    for name, where in uses:
        hit = next((f for f in forbidden if _matches(f, name)), None)
        if hit is not None and (name, where) not in bad:
            bad.append((name, where))
    if bad:
        shown = "; ".join(f"{name} ({where})" for name, where in bad[:4])
        label = getattr(func, "__name__", repr(func))
        _fail(f"{label} uses {shown}. Not allowed in this part: "
              + (why or "it asks you to implement this yourself (the library's version is what the tests "
                        "compare with).")
              + " Only what the code calls, imports or reads as an attribute counts; comments, strings "
                "and your own variable names do not.")


def _matches(entry: str, dotted: str) -> bool:
    """``entry``'s dotted components form a contiguous run of ``dotted``'s components."""
    want, have = entry.split("."), dotted.split(".")
    return any(have[i:i + len(want)] == want for i in range(len(have) - len(want) + 1))


def used_names(func) -> list[tuple[str, str]]:
    """What ``func`` calls, imports and reads as attributes: ``(dotted name, where)`` pairs.

    ``where`` is ``"line N"`` of ``func``'s source, or ``"in helper NAME, line N"`` for a function or
    class of the notebook that ``func`` uses. Names are resolved where they can be: a module alias
    becomes the module's name (``np.linalg.inv`` → ``numpy.linalg.inv``), a global function or
    class imported from a library becomes ``module.qualname``; attributes of local variables keep
    only the attribute (``x.sum()`` → ``sum``). Raises :class:`CheckFailed` when the source cannot
    be read (a function built at run time).
    """
    found: list[tuple[str, str]] = []
    _collect(func, found, seen=set(), label="", home=getattr(func, "__module__", None))
    return found


def _source_tree(obj):
    source = textwrap.dedent(inspect.getsource(obj))
    return ast.parse(source), inspect.getsourcelines(obj)[1]


def _collect(obj, found: list, seen: set, label: str, home) -> None:
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if inspect.isclass(obj):            # a class of the notebook: its methods (getsource of a class
        for member in vars(obj).values():   # defined in a notebook cell fails on Python < 3.13)
            member = getattr(member, "__func__", member)
            if inspect.isfunction(member):
                _collect(member, found, seen, label or obj.__name__, home)
        return
    func = inspect.unwrap(obj)
    try:
        tree, _ = _source_tree(func)
    except SyntaxError:                 # a lambda inside a longer line: read its compiled names instead
        _collect_compiled(func, found, label)
        return
    except (OSError, TypeError):
        if label:
            return                      # a helper without source: nothing to read
        _fail(f"could not read the source of {getattr(func, '__name__', func)!r}: define it with `def` in the notebook")
    scope = dict(builtins.__dict__)
    scope.update(getattr(func, "__globals__", {}))
    closure = getattr(func, "__closure__", None) or ()
    for name, cell in zip(getattr(getattr(func, "__code__", None), "co_freevars", ()), closure):
        try:
            scope[name] = cell.cell_contents
        except ValueError:
            pass
    local = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del))}
    for n in ast.walk(tree):
        if isinstance(n, ast.arg):
            local.add(n.arg)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n is not tree.body[0]:
            local.add(n.name)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            local.update((a.asname or a.name).split(".")[0] for a in n.names)

    def where(node) -> str:
        return (f"in helper {label}, " if label else "") + f"line {node.lineno}"

    def module_name(value) -> str | None:
        return value.__name__ if isinstance(value, types.ModuleType) else None

    def origin(value) -> str | None:
        """The library name of a global value, None for data and for the notebook's own code."""
        if isinstance(value, types.ModuleType):
            return value.__name__
        if isinstance(value, (int, float, complex, str, bytes, bool, list, tuple, dict, set)) or value is None:
            return None
        mod = getattr(value, "__module__", None) if (callable(value) or inspect.isclass(value)) else None
        if mod is None and callable(value):
            mod = type(value).__module__
        if not mod or mod in ("builtins", home, "__main__"):
            return None
        qual = getattr(value, "__qualname__", None) or getattr(value, "__name__", None) or type(value).__name__
        return f"{mod}.{qual}"

    def chain(node) -> list[str] | None:
        """The dotted components of a Name/Attribute chain, the root resolved when global."""
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return parts[::-1] if parts else None         # e.g. f(x).log_prob: the attributes only
        if node.id in local or node.id not in scope:
            return parts[::-1] if parts else None         # a local variable: its name is the learner's own
        value = scope[node.id]
        root = module_name(value) or origin(value)
        if root is None:
            return parts[::-1] if parts else None
        return root.split(".") + parts[::-1]

    inner = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}   # a.b of a.b.c
    helpers = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                found.append((a.name, where(node)))
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            for a in node.names:
                found.append((f"{base}.{a.name}".lstrip("."), where(node)))
        elif isinstance(node, ast.Attribute) and not isinstance(getattr(node, "ctx", None), ast.Store):
            if id(node) in inner:
                continue
            parts = chain(node)
            if parts:
                found.append((".".join(parts), where(node)))
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in local and node.id in scope \
                and id(node) not in inner:                                   # roots of a.b.c are in the chain
            value = scope[node.id]
            src = origin(value)
            if src is not None:
                found.append((src, where(node)))
                if src.split(".")[-1] != node.id:
                    found.append((node.id, where(node)))
            elif (inspect.isfunction(value) or inspect.isclass(value)) and getattr(value, "__module__", None) in (home, "__main__") \
                    and value is not func:
                helpers.append(value)
        if isinstance(node, ast.Call):
            last = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            strings = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            if last == "getattr" and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) \
                    and isinstance(node.args[1].value, str):
                base = chain(node.args[0]) if isinstance(node.args[0], (ast.Name, ast.Attribute)) else None
                found.append((".".join((base or []) + [node.args[1].value]), where(node)))
            elif last in ("__import__", "import_module") and strings:
                found.append((strings[0], where(node)))
    for helper in helpers:
        _collect(helper, found, seen, getattr(helper, "__name__", "?"), home)


def _collect_compiled(func, found: list, label: str) -> None:
    """The names a compiled function uses (globals, attributes, imports: ``co_names``, never its
    local variables or strings), for code whose source does not parse on its own (a lambda)."""
    where = (f"in helper {label}" if label else f"in {getattr(func, '__name__', 'the function')}")
    scope = getattr(func, "__globals__", {})
    codes = [func.__code__]
    while codes:
        code = codes.pop()
        codes.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
        for name in code.co_names:
            value = scope.get(name)
            found.append((value.__name__ if isinstance(value, types.ModuleType) else name, where))


def _guard(namespace: dict) -> None:
    """Undo what a submission could have done to make tests pass without running them.

    The autograder puts a call to this first in every test cell: it reloads this module (in case
    its functions were patched), rebinds the helpers in the notebook's namespace (in case they
    were redefined), restores the built-in ``AssertionError`` and removes IPython handlers that
    would swallow exceptions. The test cell then ends by printing a per-run nonce, which the
    grader requires (a cell whose nonce is missing did not run to its end and earns nothing).
    """
    import builtins
    import importlib
    import sys

    real = next(c for c in Exception.__subclasses__() if c.__name__ == "AssertionError" and c.__module__ == "builtins")
    builtins.AssertionError = real
    module = importlib.reload(sys.modules[__name__])
    for name in module.__all__:
        namespace[name] = getattr(module, name)
    try:
        shell = get_ipython()  # noqa: F821  (defined inside IPython)
    except NameError:
        return
    shell.custom_exceptions = ()
    if hasattr(shell, "hepcourse_memory_reserve"):          # the runner's, see hold_memory_reserve
        shell.set_custom_exc((MemoryError,), module._give_back_memory_reserve)


def hold_memory_reserve(megabytes: int) -> None:
    """Hold ``megabytes`` of memory in the kernel and give them back when a cell raises MemoryError.

    A cell that allocates until the memory limit stops it leaves the kernel with no free memory:
    formatting the error, or any later cell, then fails to allocate too (and a kernel that fails
    while sending its reply sends half a message, which loses the rest of the notebook). The
    grading runner calls this before the notebook runs; :func:`_guard` keeps the handler installed.
    """
    import mmap

    shell = get_ipython()  # noqa: F821  (defined inside IPython)
    # an anonymous mapping that is never touched: it holds address space (what the limit counts)
    # without the cost of writing megabytes of zeros into memory
    shell.hepcourse_memory_reserve = [mmap.mmap(-1, megabytes * 2**20)]
    shell.set_custom_exc((MemoryError,), _give_back_memory_reserve)


def _give_back_memory_reserve(shell, etype, value, tb, tb_offset=None):
    shell.hepcourse_memory_reserve.clear()
    return shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
