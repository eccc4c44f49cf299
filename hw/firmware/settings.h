/* The settings kept in EEPROM (serial number, rate, calibration). */
#ifndef ROLLER_SETTINGS_H
#define ROLLER_SETTINGS_H
#include "report.h"
/* Loads them; an erased or older EEPROM gives the built-in defaults. */
void settings_load(roller_settings *s);
/* Starts storing them; settings_poll() writes them a byte at a time. */
void settings_save(const roller_settings *s);
/* Writes what it can without waiting for the EEPROM. */
void settings_poll(void);
#endif
