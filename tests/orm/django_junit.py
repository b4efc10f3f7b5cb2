"""A Django test runner that also writes a junit XML file (testcase classname, name, and a
failure/error/skipped child with the error's first line), so tests/orm/compare.py can compare
a run against a plain MariaDB with one through the Setwise gateway. The file is
$DJANGO_JUNIT_XML. Works with --parallel too: the workers' events are replayed into the
main process's result."""

import os
import unittest
import xml.etree.ElementTree as ET

from django.test.runner import DiscoverRunner

RECORDS = []  # (classname, name, kind or None, message)


def _ids(test):
    tid = test.id()
    if " " in tid:  # _ErrorHolder / subtests: "setUpClass (module.Class)"
        return tid, ""
    cls, _, name = tid.rpartition(".")
    return cls, name


def _first_line(err):
    if isinstance(err, tuple) and len(err) == 3:
        etype, value, _ = err
        text = f"{getattr(etype, '__name__', etype)}: {value}"
    else:
        text = str(err)
    return next((ln.strip() for ln in text.splitlines() if ln.strip()), "")


class JunitResult(unittest.TextTestResult):
    def addSuccess(self, test):
        super().addSuccess(test)
        RECORDS.append((*_ids(test), None, ""))

    def addError(self, test, err):
        super().addError(test, err)
        RECORDS.append((*_ids(test), "error", _first_line(err)))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        RECORDS.append((*_ids(test), "failure", _first_line(err)))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        RECORDS.append((*_ids(test), "skipped", str(reason)))

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        RECORDS.append((*_ids(test), None, ""))

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        RECORDS.append((*_ids(test), "failure", "unexpected success"))

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            kind = "failure" if issubclass(err[0], test.failureException) else "error"
            RECORDS.append((*_ids(test), kind, _first_line(err)))


class JunitRunner(DiscoverRunner):
    def get_resultclass(self):
        return super().get_resultclass() or JunitResult

    def run_suite(self, suite, **kwargs):
        try:
            return super().run_suite(suite, **kwargs)
        finally:
            write_xml(os.environ.get("DJANGO_JUNIT_XML", "django-junit.xml"))


def write_xml(path):
    root = ET.Element("testsuites")
    suite = ET.SubElement(root, "testsuite", name="django")
    for cls, name, kind, msg in RECORDS:
        case = ET.SubElement(suite, "testcase", classname=cls, name=name)
        if kind:
            ET.SubElement(case, kind, message=msg[:2000])
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
