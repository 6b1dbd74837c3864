/* main.c - placeholder jetsyncd until the daemon lands. */
#include <stdio.h>

int main(void) {
    fprintf(stderr, "jetsyncd: not available in this build yet\n");
    return 1;
}
