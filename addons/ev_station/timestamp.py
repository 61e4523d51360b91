# This file is part of the EV operations suite.
from trytond.model import fields


class Timestamp(fields.Timestamp):
    """A timestamp read to the second: the stored microseconds keep entries
    in order, people read hours, minutes and seconds"""
    format = '%H:%M:%S'
