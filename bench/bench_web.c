/* rollmap serve's library pages on a large library: the time from sending
 * a request on loopback to the last byte of the answer, for the clients
 * page, a page of the session list deep in it, one client's page and the
 * unassigned page. Each figure is over REQUESTS requests, one at a time.
 * Make the library first with bench_library (10,000 sessions):
 *
 *   build/bench/bench_library 10000 /tmp/lib.db
 *   build/bench/bench_web /tmp/lib.db
 */
#include "bench_stats.h"
#include "rollmap_web.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define REQUESTS 100

static const char *const pages[] = {
    "/library",
    "/library/sessions?page=100",
    "/library/sessions?client=C0042&side=left",
    "/library/client?code=C0042",
    "/library/unassigned",
};

/* One GET, answer read to the end (Connection: close); bytes read. */
static size_t get(uint16_t port, const char *path, unsigned *status)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char request[256];
    int len = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: b\r\n"
                       "Connection: close\r\n\r\n", path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        write(fd, request, (size_t)len) != len) {
        perror("bench_web: request");
        exit(1);
    }
    char buf[65536];
    size_t total = 0;
    ssize_t n;
    *status = 0;
    while ((n = read(fd, buf, sizeof buf - 1)) > 0) {
        if (total == 0) {
            buf[n] = '\0';
            sscanf(buf, "HTTP/1.1 %u", status);
        }
        total += (size_t)n;
    }
    close(fd);
    return total;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fputs("usage: bench_web LIBRARY.db (make one with bench_library)\n", stderr);
        return 2;
    }
    rm_web_options o;
    rm_web_options_default(&o);
    o.port = 0;
    snprintf(o.db_path, sizeof o.db_path, "%s", argv[1]);
    snprintf(o.socket_path, sizeof o.socket_path, "/nonexistent/rollmapd.sock");
    snprintf(o.password_file, sizeof o.password_file, "/nonexistent/password");
    rm_web_server *web = NULL;
    rm_error err = {0};
    if (rm_web_start(&web, &o, &err) != RM_OK) {
        fprintf(stderr, "bench_web: %s\n", err.message);
        return 1;
    }
    printf("rollmap serve library pages, %s, %d requests each\n", argv[1], REQUESTS);
    for (size_t p = 0; p < sizeof pages / sizeof *pages; p++) {
        double ms[REQUESTS];
        size_t bytes = 0;
        unsigned status = 0;
        for (int i = 0; i < REQUESTS; i++) {
            uint64_t start = rm_monotonic_us();
            bytes = get(rm_web_port(web), pages[p], &status);
            ms[i] = (double)(rm_monotonic_us() - start) / 1000.0;
        }
        qsort(ms, REQUESTS, sizeof *ms, by_value);
        printf("%-42s HTTP %u %7zu bytes  p50 %6.1f ms  p99 %6.1f ms\n",
               pages[p], status, bytes, percentile(ms, REQUESTS, 50),
               percentile(ms, REQUESTS, 99));
    }
    rm_web_stop(web);
    return 0;
}
