"""Unit tests of `psi.py`, run natively: `python3 -m unittest discover -s
plugins/collectors/pressure` (tests/tests/second_language.rs runs them under
`cargo test`). The build leaves `test_*.py` out of the component."""

import unittest

import psi

CPU = (
    "some avg10=3.17 avg60=24.63 avg300=13.15 total=53397783\n"
    "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
)
IO = (
    "some avg10=1.25 avg60=0.07 avg300=0.16 total=1823259\n"
    "full avg10=0.75 avg60=0.01 avg300=0.11 total=1348138\n"
)


class ParsePressure(unittest.TestCase):
    def test_reads_every_window_and_the_total_in_seconds(self):
        values = psi.parse_pressure(IO)
        self.assertEqual(values[("some", "avg10")], 1.25)
        self.assertEqual(values[("full", "avg300")], 0.11)
        self.assertEqual(values[("some", "total")], 1.823259)
        self.assertEqual(len(values), 8)

    def test_a_kernel_without_full_for_cpu_gives_some_only(self):
        values = psi.parse_pressure(CPU.splitlines()[0])
        self.assertEqual(sorted({kind for kind, _ in values}), ["some"])

    def test_unknown_lines_and_fields_are_ignored(self):
        values = psi.parse_pressure("some avg10=1.00 avg60=0 avg5=9 total=1\nwhatever 1 2\n")
        self.assertEqual(values[("some", "avg10")], 1.0)
        self.assertNotIn(("some", "avg5"), values)

    def test_refuses_what_is_not_a_pressure_file(self):
        with self.assertRaisesRegex(ValueError, "no `some` line"):
            psi.parse_pressure("")
        with self.assertRaisesRegex(ValueError, "avg10 is not a number"):
            psi.parse_pressure("some avg10=x avg60=0 avg300=0 total=0")
        with self.assertRaisesRegex(ValueError, "avg60 is not finite"):
            psi.parse_pressure("some avg10=0 avg60=nan avg300=0 total=0")


class Series(unittest.TestCase):
    def test_names_units_and_kinds(self):
        self.assertEqual(psi.metric_name("cpu", "some", "avg10"), "pressure.cpuSomeAvg10")
        metric, unit, is_counter, help_text = psi.describe("io", "full", "total")
        self.assertEqual((metric, unit, is_counter), ("pressure.ioFullTotal", "s", True))
        self.assertIn("every non-idle task", help_text)
        metric, unit, is_counter, help_text = psi.describe("memory", "some", "avg300")
        self.assertEqual((metric, unit, is_counter), ("pressure.memorySomeAvg300", "%", False))
        self.assertIn("last 300 s", help_text)

    def test_system_wide_cpu_full_is_left_out_but_a_cgroups_is_kept(self):
        values = psi.parse_pressure(CPU)
        system = psi.reported(values, "cpu", None)
        self.assertEqual(
            system,
            [("some", "avg10"), ("some", "avg60"), ("some", "avg300"), ("some", "total")],
        )
        self.assertEqual(len(psi.reported(values, "cpu", "/sys/fs/cgroup/agents")), 8)
        self.assertEqual(len(psi.reported(psi.parse_pressure(IO), "io", None)), 8)

    def test_files(self):
        self.assertEqual(psi.pressure_file("memory", None), "/proc/pressure/memory")
        self.assertEqual(psi.pressure_file("io", "/sys/fs/cgroup/a"), "/sys/fs/cgroup/a/io.pressure")


class Config(unittest.TestCase):
    def check(self, text, expected_problems):
        options, problems = psi.parse_config(text)
        self.assertEqual([(p.key, p.problem) for p in problems], expected_problems)
        return options

    def test_an_empty_table_reads_every_resource_system_wide(self):
        self.assertEqual(self.check("{}", []), psi.Options(("cpu", "memory", "io"), ()))

    def test_resources_and_cgroups(self):
        options = self.check('{"resources": ["io"], "cgroups": ["/sys/fs/cgroup/agents/"]}', [])
        self.assertEqual(options, psi.Options(("io",), ("/sys/fs/cgroup/agents",)))

    def test_an_unknown_key_is_named(self):
        self.check('{"resource": ["cpu"]}', [("resource", "unknown key")])
        _, problems = psi.parse_config('{"resource": ["cpu"]}')
        self.assertEqual(
            str(problems[0]),
            "invalid plugin config key `resource`: unknown key (expected one of `resources`, `cgroups`)",
        )

    def test_every_problem_is_listed_with_its_path(self):
        self.check(
            '{"resources": ["cpu", "gpu", "cpu"], "cgroups": ["rel", "/a/../b", 3]}',
            [
                ("resources.1", "unknown resource 'gpu'"),
                ("resources.2", "'cpu' is listed twice"),
                ("cgroups.0", "'rel' is not an absolute path"),
                ("cgroups.1", "'/a/../b' contains `..`"),
                ("cgroups.2", "not a string"),
            ],
        )
        self.check('{"resources": []}', [("resources", "not a non-empty list")])
        self.check('{"cgroups": "/sys"}', [("cgroups", "not a list")])

    def test_what_is_not_a_table(self):
        self.check("[]", [("", "not a table")])
        _, problems = psi.parse_config("{")
        self.assertEqual([p.key for p in problems], [""])
        self.assertTrue(problems[0].problem.startswith("not JSON ("), problems[0].problem)


class Unreadable(unittest.TestCase):
    def message(self, path, error, grant, visible):
        return psi.unreadable(path, error, grant, lambda d: d in visible)

    def test_a_kernel_without_psi(self):
        text = self.message("/proc/pressure/cpu", FileNotFoundError(), "/proc", {"/proc"})
        self.assertTrue(text.startswith("/proc/pressure does not exist: this kernel has no pressure"), text)

    def test_a_missing_grant_quotes_the_line_that_grants_it(self):
        text = self.message("/proc/pressure/cpu", FileNotFoundError(), "/proc", set())
        self.assertIn('read_paths = ["/proc"]', text)
        text = self.message("/sys/fs/cgroup/a/cpu.pressure", PermissionError(), "/sys/fs/cgroup/a", set())
        self.assertIn('read_paths = ["/sys/fs/cgroup/a"]', text)

    def test_a_file_the_kernel_lacks(self):
        text = self.message("/proc/pressure/irq", FileNotFoundError(), "/proc", {"/proc", "/proc/pressure"})
        self.assertEqual(text, "/proc/pressure/irq does not exist: the kernel reports no pressure for this resource")

    def test_a_failing_read(self):
        error = OSError(95, "Operation not supported")
        text = self.message("/proc/pressure/cpu", error, "/proc", {"/proc", "/proc/pressure"})
        self.assertEqual(text, "cannot read /proc/pressure/cpu (Operation not supported)")


if __name__ == "__main__":
    unittest.main()
