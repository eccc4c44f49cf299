/* EEPROM settings. The defaults (with the serial number given at build
 * time) are in the program and in the build's .eep file: an EEPROM never
 * written (a board flashed through its bootloader, which cannot write
 * EEPROM) starts from them. TARE and SET_RATE store the settings
 * (eeprom_update_block writes changed bytes only: a cell lasts about
 * 100,000 writes). */
#include "settings.h"

#include <avr/eeprom.h>
#include <stdbool.h>
#include <string.h>

#define SETTINGS_DEFAULTS {                                       \
    .layout = ROLLER_SETTINGS_LAYOUT,                             \
    .serial = ROLLER_SERIAL,                                      \
    .rate_hz = ROLLER_RATE_FAST_HZ,                               \
    .gain_n_per_count = {ROLLER_GAIN_N_PER_COUNT,                 \
                         ROLLER_GAIN_N_PER_COUNT},                \
    .offset_counts = {0.0f, 0.0f},                                \
}

static roller_settings stored EEMEM = SETTINGS_DEFAULTS;

static bool usable(const roller_settings *s)
{
    return s->layout == ROLLER_SETTINGS_LAYOUT &&
           (s->rate_hz == ROLLER_RATE_SLOW_HZ || s->rate_hz == ROLLER_RATE_FAST_HZ) &&
           memchr(s->serial, '\0', sizeof s->serial) != NULL;
}

void settings_load(roller_settings *s)
{
    eeprom_read_block(s, &stored, sizeof *s);
    if (!usable(s))
        *s = (roller_settings)SETTINGS_DEFAULTS;
}

void settings_save(const roller_settings *s)
{
    eeprom_update_block(s, &stored, sizeof *s);
}
