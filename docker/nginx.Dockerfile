# nginx from Debian 12 for the vipd compose files (no nginx image can be pulled on the project's
# machines; any nginx works on a real host). The page at / names the node ($NODE_NAME), and
# /healthz answers 200 for vipd's HTTP check. The pidfile lives in /run/nginx/ so a shared volume
# lets the vipd container's PID check read it.
#   docker build -f docker/nginx.Dockerfile -t vipd-nginx docker/
FROM debian:bookworm-slim
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update -q \
 && apt-get install -y -q --no-install-recommends nginx-light curl iproute2 \
 && rm -rf /var/lib/apt/lists/* \
 && sed -i 's|^pid .*|pid /run/nginx/nginx.pid;|' /etc/nginx/nginx.conf \
 && mkdir -p /run/nginx \
 && ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log
COPY nginx/default.conf /etc/nginx/sites-enabled/default
COPY nginx/entrypoint.sh /usr/local/bin/nginx-entrypoint
EXPOSE 80
HEALTHCHECK --interval=5s --timeout=2s --retries=3 CMD curl -fsS -o /dev/null http://127.0.0.1/healthz || exit 1
STOPSIGNAL SIGQUIT
ENTRYPOINT ["/usr/local/bin/nginx-entrypoint"]
CMD ["nginx", "-g", "daemon off;"]
