# This file is part of the EV operations suite.
"""What the OCPP messages of a charger say, in the words of the MQTT
contract (contract.py): statuses, meter values and timestamps"""
import datetime

# OCPP 2.0.1 connector statuses and charging states in the words of 1.6
STATUS_201 = {
    'Available': 'Available',
    'Occupied': 'Preparing',
    'Reserved': 'Reserved',
    'Unavailable': 'Unavailable',
    'Faulted': 'Faulted',
    }
CHARGING_STATE_201 = {
    'Charging': 'Charging',
    'SuspendedEV': 'SuspendedEV',
    'SuspendedEVSE': 'SuspendedEVSE',
    'EVConnected': 'Preparing',
    'Idle': 'Available',
    }
ENERGY = 'Energy.Active.Import.Register'
POWER = 'Power.Active.Import'


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(
        microsecond=0)


def iso(value=None):
    "ISO 8601 in UTC with a Z, of an aware datetime (now by default)"
    return (value or utcnow()).isoformat().replace('+00:00', 'Z')


def meter_readings(meter_values, unit_key='unit'):
    """(timestamp, energy Wh, power W) of OCPP meter values; energy is the
    default measurand of OCPP"""
    readings = []
    for meter_value in meter_values or []:
        energy = power = None
        for sample in meter_value.get('sampled_value', []):
            measurand = sample.get('measurand') or ENERGY
            unit = sample.get(unit_key)
            multiplier = 0
            if isinstance(unit, dict):  # 2.0.1 unit_of_measure
                unit, multiplier = unit.get('unit'), unit.get('multiplier')
            try:
                value = float(sample['value']) * 10 ** int(multiplier or 0)
            except (KeyError, TypeError, ValueError, OverflowError):
                continue
            if unit in {'kWh', 'kW'}:
                value *= 1000
            if measurand == ENERGY:
                energy = value
            elif measurand == POWER:
                power = value
        if energy is not None or power is not None:
            readings.append((meter_value.get('timestamp') or iso(),
                    energy, power))
    return readings
