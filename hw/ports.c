/*
 * Discovery: the serial ports libserialport sees, with their USB details,
 * and (when asked) which of them are rollers: those answering identify.
 */
#include "source_internal.h"

#include <errno.h>
#include <libserialport.h>
#include <stdlib.h>
#include <string.h>

static const char *transport_name(enum sp_transport t)
{
    switch (t) {
    case SP_TRANSPORT_USB: return "usb";
    case SP_TRANSPORT_BLUETOOTH: return "bluetooth";
    case SP_TRANSPORT_NATIVE: break;
    }
    return "native";
}

static void copy_text(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

static void describe_port(struct sp_port *port, rm_port_info *info)
{
    memset(info, 0, sizeof *info);
    copy_text(info->path, sizeof info->path, sp_get_port_name(port));
    enum sp_transport t = sp_get_port_transport(port);
    copy_text(info->transport, sizeof info->transport, transport_name(t));
    if (t != SP_TRANSPORT_USB)
        return;
    int vid = 0, pid = 0;
    if (sp_get_port_usb_vid_pid(port, &vid, &pid) == SP_OK) {
        info->vid = (uint16_t)vid;
        info->pid = (uint16_t)pid;
    }
    copy_text(info->manufacturer, sizeof info->manufacturer,
              sp_get_port_usb_manufacturer(port));
    copy_text(info->product, sizeof info->product,
              sp_get_port_usb_product(port));
    copy_text(info->serial, sizeof info->serial,
              sp_get_port_usb_serial(port));
    info->known_id = rm_usb_id_known(info->vid, info->pid);
}

/** Ask a port for INFO; port->problem says why one is no roller. */
static void probe_port(rm_port_info *port)
{
    rm_source_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.kind = RM_SOURCE_SERIAL;
    snprintf(spec.path, sizeof spec.path, "%s", port->path);
    rm_link link = {.ops = &hw_source_serial_ops};
    snprintf(link.where, sizeof link.where, "%s", port->path);
    rm_error err;
    rm_status st = link.ops->open(&link.io, &spec, &err);
    if (st == RM_OK) {
        hw_link_reset(&link);
        st = hw_link_identify(&link, &port->info, &err);
        if (st == RM_OK)
            hw_link_send(&link, RM_CMD_STOP, 0, NULL);
        link.ops->close(link.io);
    }
    if (st != RM_OK) {
        snprintf(port->problem, sizeof port->problem, "%s", err.message);
        return;
    }
    port->is_roller = true;
    port->info.usb_vid = port->vid;
    port->info.usb_pid = port->pid;
}

/** Only USB ports can be rollers: probing a motherboard UART or a modem
 *  would cost 1.5 s each and may upset what is attached. */
static bool worth_probing(const rm_port_info *port)
{
    return !strcmp(port->transport, "usb");
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const rm_port_info *)a)->path,
                  ((const rm_port_info *)b)->path);
}

static rm_status empty_list(rm_port_info **out, rm_error *err)
{
    *out = calloc(1, sizeof **out);
    return *out ? RM_OK
                : rm_error_set(err, RM_ERR_NOMEM, "out of memory listing ports");
}

rm_status rm_ports_list(rm_port_info **out, size_t *count, bool probe,
                        rm_error *err)
{
    *out = NULL;
    *count = 0;
    struct sp_port **list;
    enum sp_return r = sp_list_ports(&list);
    if (r != SP_OK && sp_last_error_code() == ENOENT)
        return empty_list(out, err); /* no tty class at all: no ports */
    if (r != SP_OK) {
        char *msg = sp_last_error_message();
        rm_status st = rm_error_set(err, RM_ERR_IO,
                                    "cannot list serial ports: %s", msg);
        sp_free_error_message(msg);
        return st;
    }
    size_t n = 0;
    while (list[n])
        n++;
    rm_port_info *ports = calloc(n ? n : 1, sizeof *ports);
    if (!ports) {
        sp_free_port_list(list);
        return rm_error_set(err, RM_ERR_NOMEM, "out of memory listing ports");
    }
    for (size_t i = 0; i < n; i++)
        describe_port(list[i], &ports[i]);
    sp_free_port_list(list);
    qsort(ports, n, sizeof *ports, by_path);
    for (size_t i = 0; probe && i < n; i++)
        if (worth_probing(&ports[i]))
            probe_port(&ports[i]);
    *out = ports;
    *count = n;
    return RM_OK;
}

void rm_ports_free(rm_port_info *ports)
{
    free(ports);
}

/** What a source looks for among the ports. */
typedef struct port_query {
    bool any_roller;          /**< auto: the first that answers identify */
    uint16_t vid, pid;
    const char *serial;       /**< NULL or "": any serial */
} port_query;

static bool port_matches(const rm_port_info *p, const port_query *q)
{
    if (q->any_roller)
        return p->is_roller;
    return !strcmp(p->transport, "usb") && p->vid == q->vid &&
           p->pid == q->pid &&
           (!q->serial || !q->serial[0] || !strcmp(p->serial, q->serial));
}

/** Path of the first matching port; *found says whether there was one,
 *  *listed how many ports there were. */
static rm_status find_port(const port_query *q, char *path, size_t cap,
                           bool *found, size_t *listed, rm_error *err)
{
    rm_port_info *ports;
    rm_status st = rm_ports_list(&ports, listed, q->any_roller, err);
    if (st != RM_OK)
        return st;
    *found = false;
    for (size_t i = 0; i < *listed && !*found; i++)
        if (port_matches(&ports[i], q)) {
            snprintf(path, cap, "%s", ports[i].path);
            *found = true;
        }
    rm_ports_free(ports);
    return RM_OK;
}

rm_status hw_ports_find_usb(uint16_t vid, uint16_t pid, const char *serial,
                            char *path, size_t cap, rm_error *err)
{
    port_query q = {.vid = vid, .pid = pid, .serial = serial};
    bool found;
    size_t listed;
    rm_status st = find_port(&q, path, cap, &found, &listed, err);
    if (st == RM_OK && !found)
        st = rm_error_set(err, RM_ERR_NOT_FOUND,
                          "usb:%04x:%04x%s%s: no serial port of this USB "
                          "device is present (see rollmap devices)", vid, pid,
                          serial && serial[0] ? ":" : "",
                          serial ? serial : "");
    return st;
}

rm_status hw_ports_find_roller(char *path, size_t cap, rm_error *err)
{
    port_query q = {.any_roller = true};
    bool found;
    size_t listed;
    rm_status st = find_port(&q, path, cap, &found, &listed, err);
    if (st == RM_OK && !found)
        st = rm_error_set(err, RM_ERR_NOT_FOUND,
                          "auto: none of %zu serial ports answered identify "
                          "(see rollmap devices)", listed);
    return st;
}
