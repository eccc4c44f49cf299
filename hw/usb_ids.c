/*
 * USB vendor:product ids rollmap treats as candidate rollers: the common
 * USB-serial bridges and the CDC-ACM boards firmware authors build on.
 * Ids from the vendors' drivers and the Linux usb.ids list.
 */
#include "source_internal.h"

#include <ctype.h>
#include <string.h>

/** Room for ids added from configuration ("usb_ids" in the config). */
#define ADDED_MAX 32

/** Built-in entries in the table below. */
#define BUILTIN_COUNT 8

/** A pid that matches every product of the vendor ("239a:*"). */
#define USB_ANY_PID 0x0000

typedef struct usb_id { uint16_t vid, pid; const char *name; } usb_id;

/* Built-in entries first, then the added ones, in one table. */
static usb_id ids[] = {
    {0x1a86, 0x7523, "QinHeng CH340 serial bridge"},
    {0x10c4, 0xea60, "Silicon Labs CP210x serial bridge"},
    {0x0403, 0x6001, "FTDI FT232R serial bridge"},
    {0x0403, 0x6015, "FTDI FT231X serial bridge"},
    {0x2341, 0x0043, "Arduino Uno (CDC-ACM)"},
    {0x2e8a, 0x000a, "Raspberry Pi RP2040 (CDC-ACM)"},
    {0x239a, USB_ANY_PID, "Adafruit boards (CDC-ACM)"},
    {0x0483, 0x5740, "STM32 virtual COM port (CDC-ACM)"},
    [BUILTIN_COUNT + ADDED_MAX - 1] = {0, 0, NULL},
};
static size_t id_count = BUILTIN_COUNT;

bool rm_usb_id_known(uint16_t vid, uint16_t pid)
{
    for (size_t i = 0; i < id_count; i++)
        if (ids[i].vid == vid &&
            (ids[i].pid == pid || ids[i].pid == USB_ANY_PID))
            return true;
    return false;
}

bool hw_hex16_parse(const char *s, size_t len, uint16_t *out)
{
    if (len != 4)
        return false;
    unsigned value = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isxdigit((unsigned char)s[i]))
            return false;
        value = value * 16 + (unsigned)(isdigit((unsigned char)s[i])
                                            ? s[i] - '0'
                                            : tolower((unsigned char)s[i]) -
                                                  'a' + 10);
    }
    *out = (uint16_t)value;
    return true;
}

rm_status rm_usb_id_add(const char *text, rm_error *err)
{
    const char *colon = strchr(text, ':');
    uint16_t vid, pid = USB_ANY_PID;
    if (!colon || !hw_hex16_parse(text, (size_t)(colon - text), &vid) ||
        (strcmp(colon + 1, "*") &&
         !hw_hex16_parse(colon + 1, strlen(colon + 1), &pid)))
        return rm_error_set(err, RM_ERR_ARG,
                            "USB id '%s': expected VID:PID as 4 hex digits "
                            "each (1a86:7523) or VID:* for every product",
                            text);
    if (rm_usb_id_known(vid, pid))
        return RM_OK;
    if (id_count == sizeof ids / sizeof ids[0])
        return rm_error_set(err, RM_ERR_NO_SPACE,
                            "USB id '%s': at most %d ids can be added",
                            text, ADDED_MAX);
    ids[id_count++] = (usb_id){vid, pid, "configured"};
    return RM_OK;
}
