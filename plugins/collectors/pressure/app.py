"""The pressure collector's component edge: the `collector` world's exports.

Everything that can be tested without a host lives in `psi.py`; this file
only reads files, calls the WIT imports and converts between the two.
componentize-py generates the `wit_world` bindings at build time.
"""

import functools
import os
import traceback

import psi
from componentize_py_types import Err
from wit_world import exports
from wit_world.exports import collector_api
from wit_world.imports import host, series, types

# Handles of the series this instance declared, by (resource, kind, field,
# cgroup). Module state lives as long as the instance, and a fresh instance
# (after a crash) starts empty and declares anew, as the WIT asks.
_handles = {}

# Cgroups whose read failure was logged at WARN by this instance: a cgroup
# that went away would otherwise log every tick.
_warned = set()


def _reported(method):
    """Turns an unexpected exception into the call's error, with the
    traceback in the host log at ERROR: componentize-py would otherwise trap
    the instance, and the host would only see "unreachable executed"."""

    @functools.wraps(method)
    def call(*args):
        try:
            return method(*args)
        except Err:
            raise
        except Exception as error:
            host.log(host.LogLevel.ERROR, traceback.format_exc())
            raise Err(f"the pressure plugin failed: {error!r}") from None

    return call


class ConfigApi(exports.ConfigApi):
    @_reported
    def validate_config(self, config: str) -> types.ConfigInfo:
        _, problems = psi.parse_config(config)
        if problems:
            raise Err([types.ConfigError(p.key, p.problem, p.expected) for p in problems])
        return types.ConfigInfo(secret_keys=[])


class CollectorApi(exports.CollectorApi):
    @_reported
    def collect(self) -> collector_api.Collection:
        options, problems = psi.parse_config(host.config())
        if problems:
            raise Err("; ".join(str(p) for p in problems))
        readings = _readings(options.resources, None)
        for cgroup in options.cgroups:
            try:
                readings.extend(_readings(options.resources, cgroup))
            except Err as err:
                # A stopped container's cgroup disappears; the system-wide
                # pressure and the other cgroups still count.
                level = host.LogLevel.DEBUG if cgroup in _warned else host.LogLevel.WARN
                _warned.add(cgroup)
                host.log(level, f"skipping cgroup {cgroup}: {err.value}")
        return collector_api.Collection(readings=readings, samples=[], timestamp_ms=None)


def _readings(resources, cgroup):
    """Readings of every pressure file of `cgroup` (None: system-wide)."""
    readings = []
    for resource in resources:
        path = psi.pressure_file(resource, cgroup)
        try:
            # Bytes, decoded here: a text-mode open would look up the codec
            # in the `encodings` package, which the component does not bundle.
            with open(path, "rb") as file:
                text = file.read().decode("utf-8", "replace")
        except OSError as error:
            grant = psi.PROC_PRESSURE.rsplit("/", 1)[0] if cgroup is None else cgroup
            raise Err(psi.unreadable(path, error, grant, os.path.isdir)) from None
        try:
            values = psi.parse_pressure(text)
        except ValueError as error:
            raise Err(f"cannot use {path}: {error}") from None
        for kind, field in psi.reported(values, resource, cgroup):
            handle = _handle(resource, kind, field, cgroup)
            readings.append(collector_api.Reading(series=handle, value=values[(kind, field)]))
    return readings


def _handle(resource, kind, field, cgroup):
    """The handle of one series, declared on first use."""
    key = (resource, kind, field, cgroup)
    if key not in _handles:
        metric, unit, is_counter, help_text = psi.describe(resource, kind, field)
        labels = [] if cgroup is None else [types.Label(key="cgroup", value=cgroup)]
        kind_ = types.MetricKind.COUNTER if is_counter else types.MetricKind.GAUGE
        description = types.SeriesDescription(
            metric=metric, unit=unit, kind=kind_, help=help_text, labels=labels
        )
        try:
            _handles[key] = series.declare(description)
        except Err as err:
            raise Err(f"the host refused series {metric}: {err.value}") from None
    return _handles[key]
