"""The tamper scan's checks: a visitor over one cell, in execution order."""

from __future__ import annotations

import ast

from coursekit.grader.execution.tamper_rules import (
    CONSTANT_COMPARISONS,
    ESCAPE_CALLS,
    IMPORTERS,
    MAPPING_WRITES,
    PROTECTED_ROOTS,
    SUSPICIOUS_IMPORTS,
    SWAP_ATTRIBUTES,
    _constant_str,
    _protected,
    _Resolver,
    _root,
    _Scope,
    _unqualified,
)


class _Scanner(_Resolver):
    """Walks one cell in execution order, keeping track of what each name refers to.

    Function bodies are scanned after the cell's top level, as they run after it: they see
    the names the cell's imports bound, even an import written below the function.
    """

    # statements that bind names

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self.bind_target(target, node.value)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        self.bind_target(node.target, None)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.visit(node.annotation)
        if node.value is None:  # `x: int` binds nothing
            return
        self.visit(node.value)
        self.bind_target(node.target, node.value)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self.bind_target(node.target, node.value, walrus=True)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name):
                self._binding_scope(target.id).names[target.id] = None
            else:
                self.visit(target)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self.bind_target(node.target, None)
        for statement in (*node.body, *node.orelse):
            self.visit(statement)

    visit_AsyncFor = visit_For

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self.bind_target(item.optional_vars, None)
        for statement in node.body:
            self.visit(statement)

    visit_AsyncWith = visit_With

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self.bind(node, node.name, None)
        for statement in node.body:
            self.visit(statement)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        self.generic_visit(node)
        if node.name:
            self.bind(node, node.name, None)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self.bind(node, node.name, None)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        self.generic_visit(node)
        if node.rest:
            self.bind(node, node.rest, None)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if _root(alias.name) in SUSPICIOUS_IMPORTS:
                self.report(node, f"imports {_root(alias.name)}")
            if alias.asname:
                self.bind(node, alias.asname, alias.name, module_import=True)
            else:
                top = alias.name.split(".")[0]
                self.bind(node, top, top, module_import=True)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level == 0 and _root(module) in SUSPICIOUS_IMPORTS:
            self.report(node, f"imports {_root(module)}")
        for alias in node.names:
            if alias.name == "*":
                continue
            full = f"{module}.{alias.name}" if node.level == 0 else None
            if full == "sys.modules":
                self.report(node, "imports sys.modules")
            self.bind(node, alias.asname or alias.name, full)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for expression in (*node.decorator_list, *node.args.defaults, *node.args.kw_defaults):
            if expression is not None:
                self.visit(expression)
        for argument in _arguments(node.args):
            if argument.annotation is not None:
                self.visit(argument.annotation)
        if node.returns is not None:
            self.visit(node.returns)
        self.bind(node, node.name, None)
        self.deferred.append((node, list(self.scopes)))

    visit_AsyncFunctionDef = visit_FunctionDef

    def _scan_function_body(self, node: ast.FunctionDef | ast.AsyncFunctionDef, scopes: list[_Scope]) -> None:
        outer = self.scopes
        local = dict.fromkeys((a.arg for a in _arguments(node.args)), None)
        self.scopes = [*scopes, _Scope("function", local, _declared_global(node.body))]
        try:
            for statement in node.body:
                self.visit(statement)
        finally:
            self.scopes = outer

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for expression in (*node.args.defaults, *node.args.kw_defaults):
            if expression is not None:
                self.visit(expression)
        local = dict.fromkeys((a.arg for a in _arguments(node.args)), None)
        self.scopes.append(_Scope("function", local))
        try:
            self.visit(node.body)
        finally:
            self.scopes.pop()

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expression in (*node.decorator_list, *node.bases, *(k.value for k in node.keywords)):
            self.visit(expression)
        self._check_constant_comparisons(node)
        self.scopes.append(_Scope("class"))
        try:
            for statement in node.body:
                self.visit(statement)
        finally:
            self.scopes.pop()
        self.bind(node, node.name, None)

    def _check_constant_comparisons(self, node: ast.ClassDef) -> None:
        for statement in node.body:
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
                name, body = statement.name, _without_docstring(statement.body)
                returned = body[0].value if len(body) == 1 and isinstance(body[0], ast.Return) else None
            elif (
                isinstance(statement, ast.Assign) and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name) and isinstance(statement.value, ast.Lambda)
            ):
                name, returned = statement.targets[0].id, statement.value.body
            else:
                continue
            answer = CONSTANT_COMPARISONS.get(name)
            if answer is not None and isinstance(returned, ast.Constant) and returned.value is answer:
                self.report(statement, f"defines {name} that always returns {answer}")

    def _comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp,
                       results: tuple[ast.AST, ...]) -> None:
        # The first iterable is evaluated outside the comprehension's own scope.
        self.visit(node.generators[0].iter)
        self.scopes.append(_Scope("comprehension"))
        try:
            for number, generator in enumerate(node.generators):
                if number:
                    self.visit(generator.iter)
                self.bind_target(generator.target, None)
                for condition in generator.ifs:
                    self.visit(condition)
            for result in results:
                self.visit(result)
        finally:
            self.scopes.pop()

    def visit_ListComp(self, node: ast.ListComp) -> None:
        self._comprehension(node, (node.elt,))

    visit_SetComp = visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self._comprehension(node, (node.key, node.value))

    # expressions

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self._check_reference(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.ctx, ast.Load):
            self._check_reference(node)
        else:
            self._check_store(node)
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if not isinstance(node.ctx, ast.Load):
            self._check_store(node)
        self.generic_visit(node)

    def _check_store(self, node: ast.Attribute | ast.Subscript) -> None:
        verb = "deletes" if isinstance(node.ctx, ast.Del) else "assigns"
        path = self.path(node)
        if _protected(path):
            self.report(node, f"{verb} {path}")
            self.claim(node)
        elif isinstance(node, ast.Subscript) and (namespace := self._namespace_call(node.value)):
            self.report(node, f"writes {namespace}()")
            self.claim(node)
        elif isinstance(node, ast.Attribute) and node.attr in SWAP_ATTRIBUTES:
            self.report(node, f"{verb} {node.attr}")

    def _check_reference(self, node: ast.Name | ast.Attribute) -> None:
        if id(node) in self.claimed:
            return
        path = self.path(node)
        if path is None:
            return
        name = _unqualified(path)
        if path == "sys.modules":
            self.report(node, "uses sys.modules")
        elif name == "get_ipython" or (_root(path) == "IPython" and path.endswith(".get_ipython")):
            self.report(node, "uses get_ipython()")
        elif _root(path) == "ctypes":
            self.report(node, "uses ctypes")
        elif name in ESCAPE_CALLS:
            self.report(node, f"uses {name}")
        else:
            return
        self.claim(node)

    def _namespace_call(self, node: ast.AST) -> str | None:
        """"globals" for `globals()`; also `vars()`/`locals()` at top level, where they are globals."""
        if not (isinstance(node, ast.Call) and not node.args and not node.keywords):
            return None
        name = _unqualified(self.path(node.func))
        if name == "globals" or (name in ("vars", "locals") and self.scopes[-1].kind == "module"):
            return name
        return None

    def visit_Call(self, node: ast.Call) -> None:
        if id(node) not in self.claimed and id(node.func) not in self.claimed:
            self._check_call(node)
        self.generic_visit(node)

    def _check_call(self, node: ast.Call) -> None:
        callee = _unqualified(self.path(node.func))
        first = node.args[0] if node.args else None
        if callee in ESCAPE_CALLS:
            self.report(node, f"calls {callee}")
            self.claim(node.func)
        elif callee == "importlib.import_module":
            module = _constant_str(first)
            if module is None:
                self.report(node, "calls importlib.import_module with a computed name")
            elif _root(module) in PROTECTED_ROOTS | SUSPICIOUS_IMPORTS:
                self.report(node, f"calls importlib.import_module on {module}")
            self.claim(node.func)
        elif callee in ("setattr", "delattr"):
            self._check_setattr(node, callee, first, node.args[1] if len(node.args) > 1 else None)
        elif callee in ("object.__setattr__", "object.__delattr__", "type.__setattr__", "type.__delattr__"):
            verb = callee.split(".")[1].strip("_")
            self._check_setattr(node, verb, first, node.args[1] if len(node.args) > 1 else None)
        elif isinstance(node.func, ast.Attribute) and node.func.attr in ("__setattr__", "__delattr__"):
            self._check_setattr(node, node.func.attr.strip("_"), node.func.value, first)
        elif isinstance(node.func, ast.Attribute) and node.func.attr in MAPPING_WRITES:
            if namespace := self._namespace_call(node.func.value):
                self.report(node, f"writes {namespace}()")
                self.claim(node.func)
            elif (owner := self.path(node.func.value)) and _protected(owner) and owner.endswith("__dict__"):
                self.report(node, f"changes {owner}")
                self.claim(node.func)

    def _check_setattr(self, node: ast.Call, verb: str, target: ast.AST | None, attr: ast.AST | None) -> None:
        if target is None:
            return
        path = self.path(target)
        if _protected(path):
            self.report(node, f"calls {verb} on {path}")
            self.claim(target)
            return
        if isinstance(target, ast.Call):
            callee = _unqualified(self.path(target.func))
            if callee and (callee in IMPORTERS or callee in ("getattr", "vars") or _protected(callee)):
                self.report(node, f"calls {verb} on {callee}(...)")
                self.claim(target)
                return
        if (name := _constant_str(attr)) in SWAP_ATTRIBUTES:
            self.report(node, f"calls {verb} on {name}")


def _arguments(args: ast.arguments) -> list[ast.arg]:
    extra = [a for a in (args.vararg, args.kwarg) if a is not None]
    return [*args.posonlyargs, *args.args, *args.kwonlyargs, *extra]


def _declared_global(body: list[ast.stmt]) -> frozenset[str]:
    """Names a function body declares `global`, not looking into nested functions or classes."""
    names: set[str] = set()
    pending: list[ast.AST] = list(body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Global):
            names.update(node.names)
        elif not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            pending.extend(ast.iter_child_nodes(node))
    return frozenset(names)


def _without_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    if body and isinstance(body[0], ast.Expr) and _constant_str(body[0].value) is not None:
        return body[1:]
    return body
