/*
 * Hotplug: notice known devices arriving and leaving. libusb hotplug where
 * the platform has it (its callback only queues; rm_hotplug_poll runs
 * libusb's event handling and delivers, since libusb starts no thread and
 * forbids device I/O inside the callback), else a rescan of the serial
 * ports about once a second. ROLLMAP_HOTPLUG=rescan forces the rescan.
 */
#include "rollmap_hw.h"

#include <libusb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

/** Events queued between two polls; more in one poll period is a storm
 *  and the oldest are dropped. */
#define QUEUE_LEN 64
/** Rescan period of the fallback. */
#define RESCAN_US 1000000u

typedef struct queued_event {
    rm_hotplug_event ev;
    uint16_t vid, pid;
} queued_event;

typedef struct seen_port {
    char path[256];
    uint16_t vid, pid;
} seen_port;

struct rm_hotplug {
    rm_hotplug_cb cb;
    void *user;
    libusb_context *ctx;             /**< NULL when rescanning */
    libusb_hotplug_callback_handle handle;
    queued_event queue[QUEUE_LEN];
    size_t queued;
    seen_port *seen;                 /**< the last rescan's known ports */
    size_t seen_count;
    uint64_t next_scan_us;
};

static void enqueue(rm_hotplug *h, rm_hotplug_event ev, uint16_t vid,
                    uint16_t pid)
{
    if (h->queued == QUEUE_LEN) {
        memmove(h->queue, h->queue + 1, (QUEUE_LEN - 1) * sizeof h->queue[0]);
        h->queued--;
    }
    h->queue[h->queued++] = (queued_event){ev, vid, pid};
}

static void deliver(rm_hotplug *h)
{
    for (size_t i = 0; i < h->queued; i++)
        h->cb(h->queue[i].ev, h->queue[i].vid, h->queue[i].pid, h->user);
    h->queued = 0;
}

/* ------------------------------------------------------------------------ */
/* libusb hotplug                                                           */
/* ------------------------------------------------------------------------ */

static int LIBUSB_CALL on_usb_event(libusb_context *ctx, libusb_device *dev,
                                    libusb_hotplug_event event, void *user)
{
    (void)ctx;
    rm_hotplug *h = user;
    struct libusb_device_descriptor desc;
    /* The descriptor is cached by libusb: no device I/O here. */
    if (libusb_get_device_descriptor(dev, &desc) == 0 &&
        rm_usb_id_known(desc.idVendor, desc.idProduct))
        enqueue(h,
                event == LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED
                    ? RM_HOTPLUG_ARRIVED
                    : RM_HOTPLUG_LEFT,
                desc.idVendor, desc.idProduct);
    return 0; /* stay registered */
}

static bool open_native(rm_hotplug *h)
{
    const char *mode = getenv("ROLLMAP_HOTPLUG");
    if (mode && !strcmp(mode, "rescan"))
        return false;
    if (libusb_init(&h->ctx) != 0) {
        h->ctx = NULL;
        return false;
    }
    if (libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG) &&
        libusb_hotplug_register_callback(
            h->ctx,
            LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED |
                LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT,
            0, LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY,
            LIBUSB_HOTPLUG_MATCH_ANY, on_usb_event, h, &h->handle) ==
            LIBUSB_SUCCESS)
        return true;
    libusb_exit(h->ctx);
    h->ctx = NULL;
    return false;
}

static rm_status poll_native(rm_hotplug *h, int timeout_ms, rm_error *err)
{
    int ms = timeout_ms < 0 ? 1000 : timeout_ms;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    int r = libusb_handle_events_timeout_completed(h->ctx, &tv, NULL);
    if (r != 0 && r != LIBUSB_ERROR_INTERRUPTED && r != LIBUSB_ERROR_TIMEOUT)
        return rm_error_set(err, RM_ERR_IO, "USB events: %s",
                            libusb_error_name(r));
    deliver(h);
    return RM_OK;
}

/* ------------------------------------------------------------------------ */
/* Rescan fallback                                                          */
/* ------------------------------------------------------------------------ */

static bool port_in(const seen_port *list, size_t n, const seen_port *p)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(list[i].path, p->path) && list[i].vid == p->vid &&
            list[i].pid == p->pid)
            return true;
    return false;
}

/** The known USB ports present now. */
static rm_status scan(seen_port **out, size_t *count, rm_error *err)
{
    rm_port_info *ports;
    size_t n;
    rm_status st = rm_ports_list(&ports, &n, false, err);
    if (st != RM_OK)
        return st;
    seen_port *seen = calloc(n ? n : 1, sizeof *seen);
    if (!seen) {
        rm_ports_free(ports);
        return rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (ports[i].known_id) {
            snprintf(seen[k].path, sizeof seen[k].path, "%s", ports[i].path);
            seen[k].vid = ports[i].vid;
            seen[k].pid = ports[i].pid;
            k++;
        }
    rm_ports_free(ports);
    *out = seen;
    *count = k;
    return RM_OK;
}

static rm_status rescan(rm_hotplug *h, rm_error *err)
{
    seen_port *now;
    size_t n;
    rm_status st = scan(&now, &n, err);
    if (st != RM_OK)
        return st;
    for (size_t i = 0; i < h->seen_count; i++)
        if (!port_in(now, n, &h->seen[i]))
            enqueue(h, RM_HOTPLUG_LEFT, h->seen[i].vid, h->seen[i].pid);
    for (size_t i = 0; i < n; i++)
        if (!port_in(h->seen, h->seen_count, &now[i]))
            enqueue(h, RM_HOTPLUG_ARRIVED, now[i].vid, now[i].pid);
    free(h->seen);
    h->seen = now;
    h->seen_count = n;
    return RM_OK;
}

static rm_status poll_rescan(rm_hotplug *h, int timeout_ms, rm_error *err)
{
    uint64_t now = rm_monotonic_us();
    if (now < h->next_scan_us) {
        uint64_t wait_ms = (h->next_scan_us - now + 999) / 1000;
        if (timeout_ms >= 0 && (uint64_t)timeout_ms < wait_ms)
            wait_ms = (uint64_t)timeout_ms;
        poll(NULL, 0, (int)wait_ms);
        if (rm_monotonic_us() < h->next_scan_us)
            return RM_OK;
    }
    h->next_scan_us = rm_monotonic_us() + RESCAN_US;
    rm_status st = rescan(h, err);
    deliver(h);
    return st;
}

/* ------------------------------------------------------------------------ */

rm_status rm_hotplug_open(rm_hotplug **out, rm_hotplug_cb cb, void *user,
                          rm_error *err)
{
    *out = NULL;
    rm_hotplug *h = calloc(1, sizeof *h);
    if (!h)
        return rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    h->cb = cb;
    h->user = user;
    if (!open_native(h)) {
        /* What is there now is the baseline, not news. */
        rm_status st = scan(&h->seen, &h->seen_count, err);
        if (st != RM_OK) {
            free(h);
            return st;
        }
        h->next_scan_us = rm_monotonic_us() + RESCAN_US;
    }
    *out = h;
    return RM_OK;
}

rm_status rm_hotplug_poll(rm_hotplug *h, int timeout_ms, rm_error *err)
{
    return h->ctx ? poll_native(h, timeout_ms, err)
                  : poll_rescan(h, timeout_ms, err);
}

bool rm_hotplug_is_native(const rm_hotplug *h)
{
    return h->ctx != NULL;
}

void rm_hotplug_close(rm_hotplug *h)
{
    if (!h)
        return;
    if (h->ctx) {
        libusb_hotplug_deregister_callback(h->ctx, h->handle);
        libusb_exit(h->ctx);
    }
    free(h->seen);
    free(h);
}
