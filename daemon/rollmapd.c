/* rollmapd: the capture daemon (filled by the daemon issue). */
#include "rollmap_daemon.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--version")) {
        printf("rollmapd %s\n", ROLLMAP_VERSION);
        return 0;
    }
    fputs("rollmapd: the capture daemon is not built yet\n", stderr);
    return 1;
}
