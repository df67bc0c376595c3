/* The benchmark's open-loop HTTP probe (vipdlab.bench.probe, FineProbe; bench/README.md).
 *
 *   fineprobe HOST PORT PATH INTERVAL_US TIMEOUT_US      (commands on stdin: "on", "off")
 *
 * HOST is an IPv4 or an IPv6 address (bench --family 6).
 *
 * While on, it starts a new TCP connection and "GET PATH" every INTERVAL_US (a periodic timerfd;
 * when it runs late it starts one request, no catch-up burst) whatever the earlier requests are
 * doing, each with its own TIMEOUT_US. One line per request on stdout:
 *   START END OUTCOME      (CLOCK_MONOTONIC seconds, the clock of Python's time.monotonic())
 * OUTCOME: the first word of a 200 answer's body ("node-a"), "http-NNN", "refused", "reset",
 * "timeout", "error:ENAME". An abandoned (timed-out) request is closed with a RST (SO_LINGER 0).
 * In C rather than Python so that it costs little CPU on the 2-CPU lab machine. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAXFD 65536
#define MAXPENDING 65536

struct conn {
  int active;
  unsigned gen;
  int sending; /* 1 until the request is sent */
  double start;
  size_t len;
  char buf[512];
};

static struct conn conns[MAXFD];
static struct {
  double deadline;
  int fd;
  unsigned gen;
} pending[MAXPENDING];
static size_t p_head, p_tail; /* ring: [head, tail) */
static unsigned next_gen = 1;
static int ep;
static struct sockaddr_storage dst;
static socklen_t dst_len;
static char req[512];
static size_t req_len;
static double timeout_s;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char* errname(int err, char* tmp, size_t n) {
  switch (err) {
    case ECONNREFUSED:
      return "refused";
    case ECONNRESET:
      return "reset";
    case EHOSTUNREACH:
      return "error:EHOSTUNREACH";
    case ENETUNREACH:
      return "error:ENETUNREACH";
    case ETIMEDOUT:
      return "error:ETIMEDOUT";
    case EPIPE:
      return "error:EPIPE";
    default:
      snprintf(tmp, n, "error:%d", err);
      return tmp;
  }
}

static void finish(int fd, const char* outcome, double t, int abort_it) {
  struct conn* c = &conns[fd];
  printf("%.6f %.6f %s\n", c->start, t, outcome);
  epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
  if (abort_it) {
    struct linger l = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  close(fd);
  c->active = 0;
}

static void launch(double t) {
  char tmp[32];
  int fd = socket(dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 || fd >= MAXFD) {
    printf("%.6f %.6f %s\n", t, now(), errname(fd < 0 ? errno : EMFILE, tmp, sizeof tmp));
    if (fd >= 0) close(fd);
    return;
  }
  if (connect(fd, (struct sockaddr*)&dst, dst_len) < 0 && errno != EINPROGRESS) {
    printf("%.6f %.6f %s\n", t, now(), errname(errno, tmp, sizeof tmp));
    close(fd);
    return;
  }
  struct conn* c = &conns[fd];
  c->active = 1;
  c->gen = next_gen++;
  c->sending = 1;
  c->start = t;
  c->len = 0;
  struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  if ((p_tail + 1) % MAXPENDING != p_head) {
    pending[p_tail].deadline = t + timeout_s;
    pending[p_tail].fd = fd;
    pending[p_tail].gen = c->gen;
    p_tail = (p_tail + 1) % MAXPENDING;
  }
}

static void answered(int fd, double t) {
  struct conn* c = &conns[fd];
  char out[64];
  c->buf[c->len < sizeof c->buf ? c->len : sizeof c->buf - 1] = 0;
  const char* status = "?";
  char code[4] = "?";
  if (strncmp(c->buf, "HTTP/", 5) == 0) {
    const char* sp = strchr(c->buf, ' ');
    if (sp && strlen(sp) >= 4) {
      memcpy(code, sp + 1, 3);
      code[3] = 0;
      status = code;
    }
  }
  if (strcmp(status, "200") != 0) {
    snprintf(out, sizeof out, "http-%s", status);
    finish(fd, out, t, 0);
    return;
  }
  const char* body = strstr(c->buf, "\r\n\r\n");
  body = body ? body + 4 : "";
  while (*body == ' ' || *body == '\n' || *body == '\r' || *body == '\t') body++;
  size_t n = strcspn(body, " \r\n\t");
  if (n == 0) {
    finish(fd, "empty", t, 0);
    return;
  }
  if (n >= sizeof out) n = sizeof out - 1;
  memcpy(out, body, n);
  out[n] = 0;
  finish(fd, out, t, 0);
}

static void arm(int tfd, long interval_us) {
  struct itimerspec its;
  memset(&its, 0, sizeof its);
  its.it_interval.tv_sec = interval_us / 1000000;
  its.it_interval.tv_nsec = (interval_us % 1000000) * 1000;
  its.it_value = its.it_interval;
  timerfd_settime(tfd, 0, &its, NULL);
}

int main(int argc, char** argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s HOST PORT PATH INTERVAL_US TIMEOUT_US\n", argv[0]);
    return 2;
  }
  memset(&dst, 0, sizeof dst);
  unsigned short port = htons((unsigned short)atoi(argv[2]));
  struct sockaddr_in* d4 = (struct sockaddr_in*)&dst;
  struct sockaddr_in6* d6 = (struct sockaddr_in6*)&dst;
  int v6 = 0;
  if (inet_pton(AF_INET, argv[1], &d4->sin_addr) == 1) {
    d4->sin_family = AF_INET;
    d4->sin_port = port;
    dst_len = sizeof *d4;
  } else if (inet_pton(AF_INET6, argv[1], &d6->sin6_addr) == 1) {
    d6->sin6_family = AF_INET6;
    d6->sin6_port = port;
    dst_len = sizeof *d6;
    v6 = 1;
  } else {
    fprintf(stderr, "bad address %s\n", argv[1]);
    return 2;
  }
  long interval_us = atol(argv[4]);
  timeout_s = (double)atol(argv[5]) / 1e6;
  req_len = (size_t)snprintf(req, sizeof req,
                             "GET %s HTTP/1.0\r\nHost: %s%s%s\r\nConnection: close\r\n\r\n",
                             argv[3], v6 ? "[" : "", argv[1], v6 ? "]" : "");
  setvbuf(stdout, NULL, _IOFBF, 1 << 16);
  ep = epoll_create1(EPOLL_CLOEXEC);
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (ep < 0 || tfd < 0) {
    perror("epoll/timerfd");
    return 1;
  }
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = 0};
  epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);
  ev.data.fd = tfd;
  epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
  int on = 0;
  char inbuf[256];
  size_t inlen = 0;
  struct epoll_event evs[256];
  for (;;) {
    while (p_head != p_tail && (!conns[pending[p_head].fd].active ||
                                conns[pending[p_head].fd].gen != pending[p_head].gen))
      p_head = (p_head + 1) % MAXPENDING;
    int wait_ms = -1;
    if (p_head != p_tail) { /* timeouts: 1 ms granularity is plenty */
      double d = pending[p_head].deadline - now();
      wait_ms = d <= 0 ? 0 : (int)(d * 1000) + 1;
    }
    int n = epoll_wait(ep, evs, 256, wait_ms);
    if (n < 0 && errno != EINTR) {
      perror("epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      double t = now();
      if (fd == tfd) {
        unsigned long long exp;
        if (read(tfd, &exp, sizeof exp) == sizeof exp && on) launch(t); /* late: still one launch */
        continue;
      }
      if (fd == 0) {
        ssize_t r = read(0, inbuf + inlen, sizeof inbuf - inlen - 1);
        if (r == 0) return 0;
        if (r < 0) continue;
        inlen += (size_t)r;
        inbuf[inlen] = 0;
        char* nl;
        while ((nl = strchr(inbuf, '\n')) != NULL) {
          *nl = 0;
          if (strcmp(inbuf, "on") == 0 && !on) {
            on = 1;
            launch(now());
            arm(tfd, interval_us);
          } else if (strcmp(inbuf, "off") == 0) {
            on = 0;
            arm(tfd, 0);
          }
          size_t used = (size_t)(nl - inbuf) + 1;
          memmove(inbuf, nl + 1, inlen - used + 1);
          inlen -= used;
        }
        if (inlen >= sizeof inbuf - 1) inlen = 0;
        continue;
      }
      struct conn* c = &conns[fd];
      if (!c->active) continue;
      char tmp[32];
      if (c->sending) {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) {
          finish(fd, errname(err, tmp, sizeof tmp), t, 0);
          continue;
        }
        if (send(fd, req, req_len, MSG_NOSIGNAL) < 0) {
          finish(fd, errname(errno, tmp, sizeof tmp), t, 0);
          continue;
        }
        c->sending = 0;
        struct epoll_event e2 = {.events = EPOLLIN, .data.fd = fd};
        epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e2);
        continue;
      }
      for (;;) {
        char sink[4096];
        char* dstp = c->len < sizeof c->buf - 1 ? c->buf + c->len : sink;
        size_t room = c->len < sizeof c->buf - 1 ? sizeof c->buf - 1 - c->len : sizeof sink;
        ssize_t r = recv(fd, dstp, room, 0);
        if (r > 0) {
          if (dstp != sink) c->len += (size_t)r;
          continue;
        }
        if (r == 0) {
          answered(fd, t);
        } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
          finish(fd, errname(errno, tmp, sizeof tmp), t, 0);
        }
        break;
      }
    }
    double t = now();
    while (p_head != p_tail && pending[p_head].deadline <= t) {
      int fd = pending[p_head].fd;
      if (conns[fd].active && conns[fd].gen == pending[p_head].gen) finish(fd, "timeout", t, 1);
      p_head = (p_head + 1) % MAXPENDING;
    }
    fflush(stdout);
  }
}
