#!/usr/bin/env python3
"""A small, offline renderer for the kustomizations under deploy/.

It implements the subset of kustomize that deploy/ uses, with kustomize's
semantics, so the manifests can be rendered and validated on a machine with
no kustomize or kubectl:

  resources          files (multi-document YAML) and directories holding a
                     kustomization.yaml (rendered recursively)
  configMapGenerator files ("key=path" or "path"), literals ("key=value"),
                     behavior create|merge|replace, options.labels,
                     options.annotations, options.disableNameSuffixHash
  generatorOptions   the same options, for every generator of the file
  images             name -> newName / newTag / digest
  namespace          set on every namespaced object

Generated ConfigMaps get kustomize's content-hash name suffix (the same
algorithm, so the output matches `kubectl kustomize`), and references to them
from Pod templates (volumes, projected volumes, envFrom, env valueFrom) are
rewritten. Anything else in a kustomization.yaml is an error rather than
being silently ignored: extend this file, or keep the overlays simple.

Usage: render.py DIR          prints the rendered objects as YAML
"""

from __future__ import annotations

import copy
import hashlib
import json
import sys
from pathlib import Path

import yaml

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
SUPPORTED_KEYS = {
    "apiVersion",
    "kind",
    "resources",
    "configMapGenerator",
    "generatorOptions",
    "images",
    "namespace",
}
CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
}
# kustomize's legacy output order (kinds not listed come after, by name).
ORDER_FIRST = [
    "Namespace", "ResourceQuota", "StorageClass", "CustomResourceDefinition",
    "ServiceAccount", "PodSecurityPolicy", "Role", "ClusterRole", "RoleBinding",
    "ClusterRoleBinding", "ConfigMap", "Secret", "Endpoints", "Service",
    "LimitRange", "PriorityClass", "PersistentVolume", "PersistentVolumeClaim",
    "Deployment", "StatefulSet", "CronJob", "PodDisruptionBudget",
]
ORDER_LAST = ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"}


class RenderError(Exception):
    pass


class Item:
    """One object plus what the generators need to know about it."""

    def __init__(self, obj: dict, generated: bool = False, hashed: bool = False):
        self.obj = obj
        self.generated = generated
        self.hashed = hashed

    @property
    def key(self) -> tuple[str, str, str]:
        meta = self.obj.get("metadata") or {}
        return (self.obj.get("kind", ""), meta.get("namespace", "") or "", meta.get("name", ""))


# --------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------

def kustomization_file(directory: Path) -> Path:
    for name in KUSTOMIZATION_FILES:
        if (directory / name).is_file():
            return directory / name
    raise RenderError(f"{directory}: no kustomization.yaml")


def inside(root: Path, rel: str) -> Path:
    """A file a kustomization reads must be inside its directory, as with
    kustomize's default load restrictor."""
    path = (root / rel).resolve()
    if path != root.resolve() and root.resolve() not in path.parents:
        raise RenderError(
            f"{root}: {rel!r} is outside the kustomization directory "
            "(kustomize refuses it; make that directory a resource instead)"
        )
    if not path.is_file():
        raise RenderError(f"{root}: {rel!r} does not exist")
    return path


def load_documents(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    for d in docs:
        if not isinstance(d, dict) or "kind" not in d or "apiVersion" not in d:
            raise RenderError(f"{path}: every document needs apiVersion and kind")
        if not (d.get("metadata") or {}).get("name"):
            raise RenderError(f"{path}: a {d['kind']} has no metadata.name")
    return docs


# --------------------------------------------------------------------------
# generators
# --------------------------------------------------------------------------

def go_json(value) -> str:
    """json.Marshal's encoding: sorted keys, no spaces, UTF-8, HTML-escaped."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for raw, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                     ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, esc)
    return text


def name_hash(obj: dict) -> str:
    """kustomize's suffix: SHA-256 of the encoded ConfigMap, 10 hex digits
    with the characters that could spell words replaced."""
    encoded = {"kind": obj["kind"], "name": "", "data": obj.get("data") or {}}
    if obj.get("binaryData"):
        encoded["binaryData"] = obj["binaryData"]
    digest = hashlib.sha256(go_json(encoded).encode("utf-8")).hexdigest()[:10]
    return digest.translate(str.maketrans({"0": "g", "1": "h", "3": "k", "a": "m", "e": "t"}))


def generator_data(root: Path, gen: dict) -> dict[str, str]:
    data: dict[str, str] = {}
    for spec in gen.get("files") or []:
        key, _, rel = spec.partition("=") if "=" in spec else (Path(spec).name, "", spec)
        if key in data:
            raise RenderError(f"{root}: configMapGenerator {gen['name']}: key {key!r} twice")
        data[key] = inside(root, rel).read_text(encoding="utf-8")
    for spec in gen.get("literals") or []:
        key, sep, value = spec.partition("=")
        if not sep:
            raise RenderError(f"{root}: literal {spec!r} is not key=value")
        data[key] = value
    return data


def apply_config_map_generator(root: Path, kust: dict, items: list[Item]) -> None:
    common = kust.get("generatorOptions") or {}
    for gen in kust.get("configMapGenerator") or []:
        unknown = set(gen) - {"name", "namespace", "behavior", "files", "literals", "options"}
        if unknown:
            raise RenderError(f"{root}: configMapGenerator keys not supported here: {sorted(unknown)}")
        name = gen.get("name")
        if not name:
            raise RenderError(f"{root}: a configMapGenerator has no name")
        options = {**common, **(gen.get("options") or {})}
        behavior = gen.get("behavior", "create")
        data = generator_data(root, gen)
        namespace = gen.get("namespace", "")
        existing = [i for i in items if i.generated and i.key == ("ConfigMap", namespace, name)]
        if behavior == "create":
            if existing:
                raise RenderError(f"{root}: ConfigMap {name} is generated twice (use behavior: merge)")
            meta = {"name": name}
            if namespace:
                meta["namespace"] = namespace
            if options.get("labels"):
                meta["labels"] = dict(options["labels"])
            if options.get("annotations"):
                meta["annotations"] = dict(options["annotations"])
            obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}
            items.append(Item(obj, generated=True, hashed=not options.get("disableNameSuffixHash")))
        elif behavior in ("merge", "replace"):
            if not existing:
                raise RenderError(f"{root}: behavior {behavior} but no ConfigMap {name} to {behavior}")
            item = existing[0]
            if behavior == "merge":
                item.obj.setdefault("data", {}).update(data)
            else:
                item.obj["data"] = data
            meta = item.obj["metadata"]
            for field in ("labels", "annotations"):
                if options.get(field):
                    meta.setdefault(field, {}).update(options[field])
            if "disableNameSuffixHash" in (gen.get("options") or {}):
                item.hashed = not gen["options"]["disableNameSuffixHash"]
        else:
            raise RenderError(f"{root}: unknown behavior {behavior!r}")


# --------------------------------------------------------------------------
# transformers
# --------------------------------------------------------------------------

def pod_specs(obj: dict):
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        yield spec
    elif kind == "CronJob":
        yield (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec") or {}
    elif kind in WORKLOADS:
        yield (spec.get("template") or {}).get("spec") or {}


def containers(pod: dict):
    for field in ("initContainers", "containers", "ephemeralContainers"):
        yield from pod.get(field) or []


def image_name(image: str) -> str:
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def apply_images(root: Path, kust: dict, items: list[Item]) -> None:
    for rule in kust.get("images") or []:
        unknown = set(rule) - {"name", "newName", "newTag", "digest"}
        if unknown or "name" not in rule:
            raise RenderError(f"{root}: images entry not supported: {rule}")
        for item in items:
            for pod in pod_specs(item.obj):
                for c in containers(pod):
                    image = c.get("image", "")
                    if image_name(image) != rule["name"]:
                        continue
                    new = rule.get("newName", rule["name"])
                    if rule.get("digest"):
                        new += "@" + rule["digest"]
                    elif rule.get("newTag"):
                        new += ":" + str(rule["newTag"])
                    else:
                        rest = image[len(image_name(image)):]
                        new += rest
                    c["image"] = new


def apply_namespace(kust: dict, items: list[Item]) -> None:
    ns = kust.get("namespace")
    if not ns:
        return
    for item in items:
        if item.obj["kind"] not in CLUSTER_SCOPED:
            item.obj["metadata"]["namespace"] = ns


def config_map_refs(obj: dict):
    """(holder, key) pairs naming a ConfigMap in a Pod template."""
    for pod in pod_specs(obj):
        for vol in pod.get("volumes") or []:
            if "configMap" in vol:
                yield vol["configMap"], "name"
            for src in (vol.get("projected") or {}).get("sources") or []:
                if "configMap" in src:
                    yield src["configMap"], "name"
        for c in containers(pod):
            for ef in c.get("envFrom") or []:
                if "configMapRef" in ef:
                    yield ef["configMapRef"], "name"
            for env in c.get("env") or []:
                ref = (env.get("valueFrom") or {}).get("configMapKeyRef")
                if ref:
                    yield ref, "name"


def apply_name_hashes(items: list[Item]) -> None:
    renames: dict[tuple[str, str], str] = {}
    for item in items:
        if item.generated and item.hashed:
            meta = item.obj["metadata"]
            new = f"{meta['name']}-{name_hash(item.obj)}"
            renames[(meta.get("namespace", "") or "", meta["name"])] = new
            meta["name"] = new
    for item in items:
        ns = item.obj["metadata"].get("namespace", "") or ""
        for holder, key in config_map_refs(item.obj):
            new = renames.get((ns, holder.get(key)))
            if new:
                holder[key] = new


# --------------------------------------------------------------------------
# build
# --------------------------------------------------------------------------

def build_items(directory: Path, seen: tuple[Path, ...] = ()) -> list[Item]:
    directory = directory.resolve()
    if directory in seen:
        raise RenderError(f"{directory}: kustomization cycle")
    path = kustomization_file(directory)
    kust = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    unknown = set(kust) - SUPPORTED_KEYS
    if unknown:
        raise RenderError(f"{path}: not supported by deploy/tools/render.py: {sorted(unknown)}")
    items: list[Item] = []
    for res in kust.get("resources") or []:
        target = (directory / res).resolve()
        if target.is_dir():
            items.extend(build_items(target, seen + (directory,)))
        elif target.is_file():
            if directory not in target.parents:
                raise RenderError(f"{path}: resource file {res!r} is outside the kustomization directory")
            items.extend(Item(d) for d in load_documents(target))
        else:
            raise RenderError(f"{path}: resource {res!r} does not exist")
    apply_config_map_generator(directory, kust, items)
    apply_images(directory, kust, items)
    apply_namespace(kust, items)
    keys = [i.key for i in items]
    dupes = {k for k in keys if keys.count(k) > 1}
    if dupes:
        raise RenderError(f"{path}: objects defined twice: {sorted(dupes)}")
    return items


def sort_key(obj: dict):
    kind = obj["kind"]
    if kind in ORDER_FIRST:
        rank = (0, ORDER_FIRST.index(kind), "")
    elif kind in ORDER_LAST:
        rank = (2, ORDER_LAST.index(kind), "")
    else:
        rank = (1, 0, kind)
    meta = obj["metadata"]
    return rank + (meta.get("namespace", "") or "", meta["name"])


def render(directory: Path) -> list[dict]:
    items = build_items(Path(directory))
    apply_name_hashes(items)
    return sorted((copy.deepcopy(i.obj) for i in items), key=sort_key)


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper, value: str):
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str)


def dump(objs: list[dict]) -> str:
    return "---\n".join(
        yaml.dump(o, Dumper=_Dumper, sort_keys=True, default_flow_style=False, allow_unicode=True, width=1000)
        for o in objs
    )


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    try:
        sys.stdout.write(dump(render(Path(argv[1]))))
    except RenderError as e:
        print(f"render.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
