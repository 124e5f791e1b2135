// crisp-pause: the init process of every pod sandbox.
//
// It holds the pod's namespaces open by existing, reaps zombies when it is PID 1 of a PID namespace the
// pod's containers share, and exits cleanly on SIGINT or SIGTERM. Static and tiny: one runs per pod.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_termination(int signo) {
  (void)signo;
  _exit(0);
}

static void on_child(int signo) {
  (void)signo;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(int argc, char **argv) {
  if (argc > 1 && (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--version") == 0)) {
    printf("crisp-pause 0.1.0\n");
    return 0;
  }
  if (getpid() != 1) {
    fprintf(stderr, "crisp-pause: warning: not PID 1 of its namespace; zombies of other processes are not reaped\n");
  }
  struct sigaction termination = {.sa_handler = on_termination};
  sigemptyset(&termination.sa_mask);
  if (sigaction(SIGINT, &termination, NULL) < 0 || sigaction(SIGTERM, &termination, NULL) < 0) {
    perror("crisp-pause: sigaction");
    return 1;
  }
  struct sigaction child = {.sa_handler = on_child, .sa_flags = SA_NOCLDSTOP | SA_RESTART};
  sigemptyset(&child.sa_mask);
  if (sigaction(SIGCHLD, &child, NULL) < 0) {
    perror("crisp-pause: sigaction");
    return 1;
  }
  for (;;) {
    pause();
  }
  return 42;
}
