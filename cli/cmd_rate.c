/* rollmap rate: the sample rate of the device rollmapd is connected to,
 * set over its live socket (docs/LIVE.md, "rate"). */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "rate"
/* rollmapd answers once the device has (identify, SET_RATE: 2 s at most)
 * and gives up after 5 s itself. */
#define ANSWER_TIMEOUT_MS 7000
/* As a source's ?rate=N and a text profile's sample_rate_hz. */
#define RATE_MAX_HZ 100000

typedef struct rate_options {
    long rate_hz;
    char socket[108];
} rate_options;

static void usage(FILE *out)
{
    fputs("usage: rollmap rate HZ [--socket PATH]\n\n"
          "Set the sample rate (samples a second per channel) of the roller\n"
          "that the running rollmapd is connected to. rollmapd sends SET_RATE,\n"
          "waits for the roller's answer and identifies it again, so that\n"
          "`rollmap status` and the next session carry the new rate; it sets\n"
          "the rate again whenever the roller is plugged back in. Refused\n"
          "while a session is being recorded (a session keeps one rate), and\n"
          "by rollers that do not have the rate (the message names the ones\n"
          "they have when the roller says; the reference firmware has 10 and\n"
          "80) or cannot change it (text-mode devices: their rate is their\n"
          "profile's). To set the rate from the start, name it in the source:\n"
          "tty:PATH?rate=80.\n\n"
          "Options:\n"
          "  --socket PATH  rollmapd's live socket (default as rollmap status)\n"
          "  -h, --help     this help\n\n"
          "Example:\n"
          "  rollmap rate 80\n", out);
}

static int parse_rate(const char *arg, rate_options *o)
{
    char *end;
    o->rate_hz = strtol(arg, &end, 10);
    if (end == arg || *end || o->rate_hz < 1 || o->rate_hz > RATE_MAX_HZ)
        return cli_fail_usage(CMD, "'%s' is not a rate: give samples a second, "
                              "1 to %d", arg, RATE_MAX_HZ);
    return -1;
}

/* Returns -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, rate_options *o)
{
    static const struct option longopts[] = {
        {"socket", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    opterr = 0; /* our own message, in the "rollmap CMD: ..." form */
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (cli_option_text(CMD, "socket", optarg, o->socket,
                                sizeof o->socket) != CLI_OK)
                return CLI_USAGE;
            break;
        case 'h': usage(stdout); return CLI_OK;
        default:
            return cli_fail_option(CMD, argv[optind - 1], usage);
        }
    }
    if (optind + 1 != argc) {
        usage(stderr);
        return cli_fail_usage(CMD, optind == argc ? "give the rate (HZ)"
                                                  : "give one rate only");
    }
    return parse_rate(argv[optind], o);
}

int cmd_rate(int argc, char **argv)
{
    rate_options o = {0};
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0)
        return rc;
    char request[64];
    snprintf(request, sizeof request, "{\"cmd\":\"rate\",\"value\":%ld}",
             o.rate_hz);
    rm_client *c = NULL;
    rm_error err = {0};
    if (rm_client_connect(&c, o.socket, &err) != RM_OK)
        return cli_fail_error(CMD, &err);
    rm_status st = rm_client_request(c, request, NULL, ANSWER_TIMEOUT_MS, &err);
    rm_client_close(c);
    if (st != RM_OK)
        return cli_fail_error(CMD, &err);
    printf("the device now sends %ld samples a second\n", o.rate_hz);
    return CLI_OK;
}
