"""Trained models, cached: the first suite that asks for a model trains it, every later one loads it.

A model is identified by its trainer (with the recipe, for train_ct and train_continuous_ct), its task name, the
arguments of the call that differ from the trainer's defaults (so `seed=0` and no seed are one model; a model argument
by its own identity), the source of cm_toy and the torch version: change any of these and the model trains again.
Each lives in benchmarks/cache/ (not committed) as a cm_toy.save_model file with a JSON beside it: the call, its
wall-clock seconds and its losses. A model load_model does not restore whole (a TrigFlow, say) is not cached, nor one
whose call has an argument with no stable description (a function).
"""

import dataclasses
import hashlib
import inspect
import json
import pathlib
import sys
import time

import torch

import cm_toy
from benchmarks import common


@dataclasses.dataclass
class Trained:
    model: torch.nn.Module  # the EMA weights, the model to sample with (TrainResult.ema)
    seconds: float  # wall-clock seconds of the trainer's call, pretraining inside it included
    losses: list  # TrainResult.losses: the mean loss at every step
    key: str  # what identifies it (see the module's docstring), as a digest; None when nothing stable does


def _library():
    """A digest of cm_toy's source: a cached model is reused only by the code that trained it."""
    digest = hashlib.sha256()
    for path in sorted(pathlib.Path(cm_toy.__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


LIBRARY = _library()


def _plain(value):
    """The argument as JSON for the key; TypeError for one that has no stable description (a function, say)."""
    if isinstance(value, Trained):
        if value.key is None:
            raise TypeError("a model trained from an argument with no stable description")
        return {"trained": value.key}
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)  # 1 and 1.0 are the same argument
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, torch.device):
        return str(value)
    raise TypeError(f"no cache key for an argument of type {type(value).__name__}")


def _resolve(trainer, kwargs):
    """(the function the call runs, its name, the functions a **kwargs of it may reach): a dispatcher's recipe (from
    its module's RECIPES), else the trainer itself."""
    recipes = getattr(sys.modules[trainer.__module__], "RECIPES", None)
    if isinstance(recipes, dict) and "recipe" in inspect.signature(trainer).parameters:
        recipe = kwargs.get("recipe", inspect.signature(trainer).parameters["recipe"].default)
        if recipe not in recipes:
            raise ValueError(f"unknown recipe {recipe!r}; valid choices: {', '.join(recipes)}")
        return recipes[recipe], f"{trainer.__name__}:{recipe}", list(recipes.values())
    return trainer, trainer.__name__, []


def _default(name, target, siblings):
    """The default the call gives parameter `name`: the target's own, or, for one its **kwargs passes on to another
    recipe, the default every recipe that has the parameter agrees on. inspect.Parameter.empty when not known."""
    params = inspect.signature(target).parameters
    if name in params:
        return params[name].default
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return inspect.Parameter.empty
    defaults = {
        repr(inspect.signature(f).parameters[name].default) for f in siblings if name in inspect.signature(f).parameters
    }
    if len(defaults) != 1:
        return inspect.Parameter.empty
    return next(
        inspect.signature(f).parameters[name].default for f in siblings if name in inspect.signature(f).parameters
    )


def _arguments(target, siblings, args, kwargs):
    """The call's arguments that differ from their defaults (so that `seed=0` and no seed are the same model)."""
    params = [p for p in inspect.signature(target).parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    positional = [p.name for p in params[1:]]  # after the task
    arguments = dict(zip(positional, args)) | {k: v for k, v in kwargs.items() if k not in ("recipe", "progress")}
    return {k: v for k, v in arguments.items() if not _equal(v, _default(k, target, siblings))}


def _equal(value, default):
    try:
        return default is not inspect.Parameter.empty and type(value) is type(default) and bool(value == default)
    except (TypeError, RuntimeError):
        return False


def _restored(model, path):
    """Save the model to path; whether cm_toy.load_model gives it back whole: its class, constants and every tensor."""
    try:
        cm_toy.save_model(model, path)
        loaded = cm_toy.load_model(path)
    except (AttributeError, KeyError, RuntimeError, TypeError, ValueError):
        return False
    a, b = loaded, model
    sa, sb = a.state_dict(), b.state_dict()
    return (
        type(a) is type(b)
        and (a.sigma_data, a.sigma_min) == (b.sigma_data, b.sigma_min)
        and sa.keys() == sb.keys()
        and all(torch.equal(sa[k].cpu(), sb[k].cpu()) for k in sa)
    )


def fit(trainer, task, *args, cache=True, **kwargs):
    """trainer(task, *args, progress=False, **kwargs) as a Trained, loaded from the cache when it holds this model.

    trainer: a cm_toy trainer (cm_toy.train_edm, cm_toy.train_cd, cm_toy.drift.train_original, ...); task: a task
    name. A Trained among the arguments (a teacher, an init) is passed as its model. Under --smoke the budgets are
    capped (common.SMOKE_STEPS). cache=False, or an argument with no stable description, trains without the cache.
    """
    target, name, siblings = _resolve(trainer, kwargs)
    if common.RUN.smoke:  # every trainer takes steps; the other budgets only where the call's function names them
        for budget, cap in common.SMOKE_STEPS.items():
            default = _default(budget, target, siblings)
            if budget == "steps" or budget in inspect.signature(target).parameters:
                kwargs[budget] = min(kwargs.get(budget, cap if default is inspect.Parameter.empty else default), cap)
    try:
        if not isinstance(task, str):
            raise TypeError("a task given as an object, not by name")
        arguments = _plain(_arguments(target, siblings, args, kwargs))
        call = dict(trainer=name, task=task, arguments=arguments, cm_toy=LIBRARY, torch=torch.__version__)
        key = json.dumps(call, sort_keys=True)
    except TypeError:
        key = None
    digest = None if key is None else hashlib.sha256(key.encode()).hexdigest()[:16]
    path = (
        None
        if not cache or key is None
        else pathlib.Path(common.RUN.cache) / f"{name.replace(':', '-')}-{task}-{digest}"
    )
    if path is not None and path.with_suffix(".json").exists() and not common.RUN.retrain:
        meta = json.loads(path.with_suffix(".json").read_text())
        model = cm_toy.load_model(path.with_suffix(".pt")).requires_grad_(False)
        return Trained(model, meta["seconds"], meta["losses"], digest)
    model_args = [a.model if isinstance(a, Trained) else a for a in args]
    model_kwargs = {k: v.model if isinstance(v, Trained) else v for k, v in kwargs.items()}
    start = time.perf_counter()
    result = trainer(task, *model_args, progress=False, **model_kwargs)
    trained = Trained(result.ema, time.perf_counter() - start, list(result.losses), digest)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if _restored(trained.model, path.with_suffix(".pt")):
            meta = dict(call=json.loads(key), seconds=trained.seconds, losses=trained.losses)
            path.with_suffix(".json").write_text(json.dumps(meta))  # written last: its presence marks a whole entry
        else:
            path.with_suffix(".pt").unlink(missing_ok=True)
            print(f"  not cached: cm_toy.load_model does not restore this {type(trained.model).__name__}", flush=True)
    return trained
