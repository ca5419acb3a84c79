"""Pressure stall information: parsing, config checking and series naming.

Pure functions over text and plain values, with no WIT import, so the unit
tests (`test_psi.py`) run under any Python; `app.py` is the component's edge.

A pressure file (`/proc/pressure/cpu`, or `cpu.pressure` in a cgroup v2
directory) reads

    some avg10=1.25 avg60=0.07 avg300=0.16 total=1823259
    full avg10=0.75 avg60=0.01 avg300=0.11 total=1348138

`some` is the share of wall time in which at least one task was stalled on
the resource, `full` the share in which every non-idle task was; the averages
are percentages over 10, 60 and 300 seconds, `total` the stalled time in
microseconds since boot (or since the cgroup was created).
"""

import json
import math

RESOURCES = ("cpu", "memory", "io")
KINDS = ("some", "full")
WINDOWS = ("avg10", "avg60", "avg300")
KEYS = ("resources", "cgroups")

# Where the kernel reports system-wide pressure.
PROC_PRESSURE = "/proc/pressure"


class ConfigProblem:
    """One thing wrong with the `config` table: mirrors WIT `config-error`."""

    def __init__(self, key, problem, expected):
        self.key = key
        self.problem = problem
        self.expected = expected

    def __eq__(self, other):
        return (self.key, self.problem, self.expected) == (
            other.key,
            other.problem,
            other.expected,
        )

    def __repr__(self):
        return f"ConfigProblem({self.key!r}, {self.problem!r}, {self.expected!r})"

    def __str__(self):
        where = f" key `{self.key}`" if self.key else ""
        return f"invalid plugin config{where}: {self.problem} (expected {self.expected})"


class Options:
    """A checked config: which resources to read, and for which cgroups."""

    def __init__(self, resources=RESOURCES, cgroups=()):
        self.resources = tuple(resources)
        self.cgroups = tuple(cgroups)

    def __eq__(self, other):
        return (self.resources, self.cgroups) == (other.resources, other.cgroups)

    def __repr__(self):
        return f"Options(resources={self.resources!r}, cgroups={self.cgroups!r})"


def parse_config(text):
    """The options in `text` (the JSON of the plugin's `config` table), or
    every problem with it: returns `(Options, [])` or `(None, problems)`."""
    try:
        table = json.loads(text)
    except ValueError as err:
        return None, [ConfigProblem("", f"not JSON ({err})", "a table")]
    if not isinstance(table, dict):
        return None, [ConfigProblem("", "not a table", "a table")]
    problems = []
    for key in table:
        if key not in KEYS:
            problems.append(
                ConfigProblem(key, "unknown key", "one of " + ", ".join(f"`{k}`" for k in KEYS))
            )
    resources = RESOURCES
    if "resources" in table:
        resources = table["resources"]
        expected = 'a non-empty list of "cpu", "memory", "io", each at most once'
        if not isinstance(resources, list) or not resources:
            problems.append(ConfigProblem("resources", "not a non-empty list", expected))
        else:
            for index, name in enumerate(resources):
                if name not in RESOURCES:
                    problems.append(ConfigProblem(f"resources.{index}", f"unknown resource {name!r}", expected))
                elif resources.index(name) != index:
                    problems.append(ConfigProblem(f"resources.{index}", f"{name!r} is listed twice", expected))
    cgroups = ()
    if "cgroups" in table:
        cgroups = table["cgroups"]
        expected = "a list of absolute cgroup v2 directories, like /sys/fs/cgroup/system.slice"
        if not isinstance(cgroups, list):
            problems.append(ConfigProblem("cgroups", "not a list", expected))
        else:
            for index, path in enumerate(cgroups):
                problem = cgroup_problem(path)
                if problem:
                    problems.append(ConfigProblem(f"cgroups.{index}", problem, expected))
    if problems:
        return None, problems
    return Options(resources, [path.rstrip("/") for path in cgroups]), []


def cgroup_problem(path):
    """Why `path` cannot name a cgroup directory, or None."""
    if not isinstance(path, str):
        return "not a string"
    if not path.startswith("/"):
        return f"{path!r} is not an absolute path"
    if ".." in path.split("/"):
        return f"{path!r} contains `..`"
    return None


def parse_pressure(text):
    """`{(kind, field): value}` of one pressure file, for the `some` and
    `full` lines; averages in percent, `total` in seconds.

    Raises ValueError naming the line that cannot be read."""
    values = {}
    for line in text.splitlines():
        fields = line.split()
        if not fields or fields[0] not in KINDS:
            # Lines a future kernel may add do not make the known ones wrong.
            continue
        kind = fields[0]
        for field in fields[1:]:
            name, _, number = field.partition("=")
            if name not in WINDOWS and name != "total":
                continue
            try:
                value = float(number)
            except ValueError:
                raise ValueError(f"{name} is not a number in {line!r}") from None
            if not math.isfinite(value):
                raise ValueError(f"{name} is not finite in {line!r}")
            values[(kind, name)] = value / 1e6 if name == "total" else value
    if not any(kind == "some" for kind, _ in values):
        raise ValueError(f"no `some` line in {text!r}")
    return values


def metric_name(resource, kind, field):
    """`pressure.cpuSomeAvg10`, `pressure.ioFullTotal`: dotted, camelCase."""
    return f"pressure.{resource}{kind.capitalize()}{field.capitalize()}"


def describe(resource, kind, field):
    """`(metric, unit, is_counter, help)` of one series."""
    metric = metric_name(resource, kind, field)
    who = "some task" if kind == "some" else "every non-idle task"
    if field == "total":
        return (
            metric,
            "s",
            True,
            f"seconds in which {who} was stalled on {resource}, since boot or cgroup creation",
        )
    seconds = field[len("avg"):]
    return (
        metric,
        "%",
        False,
        f"share of the last {seconds} s in which {who} was stalled on {resource}",
    )


def pressure_file(resource, cgroup):
    """The file that reports `resource`, system-wide or for one cgroup."""
    if cgroup is None:
        return f"{PROC_PRESSURE}/{resource}"
    return f"{cgroup}/{resource}.pressure"


def unreadable(path, error, grant, isdir):
    """What to say when `path` cannot be read: the kernel lacks pressure
    stall information, the operator granted no access, or the read failed.
    `grant` is the directory `read_paths` must hold; `isdir` tells whether
    a directory is visible to the plugin."""
    directory = path.rsplit("/", 1)[0]
    missing = isinstance(error, FileNotFoundError)
    if missing and isdir(directory):
        return f"{path} does not exist: the kernel reports no pressure for this resource"
    if missing and grant == "/proc" and isdir(grant):
        return (
            f"{directory} does not exist: this kernel has no pressure stall information "
            "(it needs Linux 4.20 or later built with CONFIG_PSI=y, not booted with psi=0)"
        )
    if not isdir(grant):
        return (
            f"cannot read {path}: {grant} does not exist or is not granted to the plugin; "
            f'read_paths = ["{grant}"] in its [[plugins]] entry grants it'
        )
    # A kernel booted with psi=0 has the files but fails every read.
    return f"cannot read {path} ({getattr(error, 'strerror', None) or error})"


def reported(values, resource, cgroup):
    """The `(kind, field)` entries worth a series. System-wide `cpu full` is
    left out: the kernel prints it only so every file has the same shape,
    and it is always zero outside a cgroup."""
    return [
        (kind, field)
        for kind in KINDS
        for field in (*WINDOWS, "total")
        if (kind, field) in values and not (cgroup is None and resource == "cpu" and kind == "full")
    ]
