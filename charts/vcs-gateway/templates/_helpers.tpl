{{/*
Chart name, truncated so that "<fullname>-front-door" still fits the 63
characters of a DNS label.
*/}}
{{- define "vcs-gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 52 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: release-chart, or the release name alone when it already contains
the chart name. At most 52 characters: the Services add "-front-door".
*/}}
{{- define "vcs-gateway.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "vcs-gateway.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every object.
*/}}
{{- define "vcs-gateway.labels" -}}
helm.sh/chart: {{ include "vcs-gateway.chart" . }}
{{ include "vcs-gateway.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels: stable across upgrades (a Deployment's selector is immutable).
*/}}
{{- define "vcs-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vcs-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "vcs-gateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "vcs-gateway.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
image: repository:tag, or repository@digest when a digest is pinned.
*/}}
{{- define "vcs-gateway.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
HOST:PORT a listener binds: (list $ port). An IPv6 listenHost is bracketed.
*/}}
{{- define "vcs-gateway.listen" -}}
{{- $root := index . 0 }}
{{- $port := index . 1 | int }}
{{- if contains ":" $root.Values.listenHost }}
{{- printf "[%s]:%d" $root.Values.listenHost $port }}
{{- else }}
{{- printf "%s:%d" $root.Values.listenHost $port }}
{{- end }}
{{- end }}

{{/*
The URL this replica advertises to its peers: its pod IP (the POD_IP variable,
expanded by the kubelet) and the peer port. Bracketed on IPv6.
*/}}
{{- define "vcs-gateway.peerUrl" -}}
{{- $scheme := ternary "https" "http" (not (empty .Values.peer.tls.existingSecret)) }}
{{- if contains ":" .Values.listenHost }}
{{- printf "%s://[$(POD_IP)]:%d" $scheme (int .Values.peer.port) }}
{{- else }}
{{- printf "%s://$(POD_IP):%d" $scheme (int .Values.peer.port) }}
{{- end }}
{{- end }}

{{/*
The four secrets: [values path, value, existing Secret, key there, key in the
chart's own Secret, variable].
*/}}
{{- define "vcs-gateway.secretItems" -}}
{{- $items := list
  (list "redis.url" .Values.redis.url .Values.redis.existingSecret .Values.redis.existingSecretKey "redis-url" "VCS_GATEWAY_REDIS_URL")
  (list "admin.token" .Values.admin.token .Values.admin.existingSecret .Values.admin.existingSecretKey "admin-token" "VCS_GATEWAY_ADMIN_TOKEN")
  (list "frontDoor.token" .Values.frontDoor.token .Values.frontDoor.existingSecret .Values.frontDoor.existingSecretKey "front-door-token" "VCS_GATEWAY_FRONT_DOOR_TOKEN")
  (list "peer.token" .Values.peer.token .Values.peer.existingSecret .Values.peer.existingSecretKey "peer-token" "VCS_GATEWAY_PEER_TOKEN") }}
{{- toJson $items }}
{{- end }}

{{/*
secretKeyRef of one secret: (list $ value existingSecret existingSecretKey ownKey).
*/}}
{{- define "vcs-gateway.secretKeyRef" -}}
{{- $root := index . 0 }}
{{- $existing := index . 2 }}
{{- if $existing }}
name: {{ $existing }}
key: {{ index . 3 }}
{{- else }}
name: {{ include "vcs-gateway.fullname" $root }}
key: {{ index . 4 }}
{{- end }}
{{- end }}

{{/*
Whether the chart renders its own Secret: when any secret is given in values.
*/}}
{{- define "vcs-gateway.ownSecret" -}}
{{- if or .Values.redis.url .Values.admin.token .Values.frontDoor.token .Values.peer.token -}}
true
{{- end }}
{{- end }}

{{/*
Fail early, with the value at fault named, on what the schema cannot express.
*/}}
{{- define "vcs-gateway.validate" -}}
{{- if not .Values.gatewayUrl }}
{{- fail "gatewayUrl is required: the URL agents dial, e.g. https://vcs-gateway.example.com:8443 (VCS_GATEWAY_URL, written into the tokens the admin API creates)" }}
{{- end }}
{{- range $item := include "vcs-gateway.secretItems" . | fromJsonArray }}
{{- $path := index $item 0 }}
{{- $base := trimSuffix ".url" (trimSuffix ".token" $path) }}
{{- if and (not (index $item 1)) (not (index $item 2)) }}
{{- if eq $path "redis.url" }}
{{- fail "redis.url is required (or set redis.existingSecret to a Secret holding it under redis.existingSecretKey): the replicas share their state in an existing Redis; the chart does not run one" }}
{{- else }}
{{- fail (printf "%s is required (or set %s.existingSecret to a Secret holding it under %s.existingSecretKey)" $path $base $base) }}
{{- end }}
{{- end }}
{{- if and (index $item 1) (index $item 2) }}
{{- fail (printf "%s and %s.existingSecret are both set: keep the value in the Secret and unset %s" $path $base $path) }}
{{- end }}
{{- end }}
{{- if and .Values.agents.tls.existingSecret (hasPrefix "http://" .Values.gatewayUrl) }}
{{- fail "gatewayUrl is http:// but agents.tls.existingSecret turns TLS on: agents would speak cleartext to a TLS listener; use https://" }}
{{- end }}
{{- if and .Values.peer.tls.existingSecret (not .Values.peer.tls.servername) }}
{{- fail "peer.tls.servername is required with peer.tls.existingSecret: the DNS name in the shared certificate the replicas check, since they dial each other's pod IPs" }}
{{- end }}
{{- if and .Values.peer.tls.servername (not .Values.peer.tls.existingSecret) }}
{{- fail "peer.tls.servername is set but peer.tls.existingSecret is not: set the Secret holding tls.crt, tls.key and ca.crt to turn peer TLS on" }}
{{- end }}
{{- $ports := dict }}
{{- $named := list (list "agents.port" .Values.agents.port) (list "frontDoor.port" .Values.frontDoor.port) (list "admin.port" .Values.admin.port) (list "peer.port" .Values.peer.port) }}
{{- if .Values.spacelift.enabled }}
{{- $named = append $named (list "spacelift.port" .Values.spacelift.port) }}
{{- end }}
{{- range $named }}
{{- $port := toString (int (index . 1)) }}
{{- if hasKey $ports $port }}
{{- fail (printf "%s and %s are both %s: every listener needs its own port" (get $ports $port) (index . 0) $port) }}
{{- end }}
{{- $_ := set $ports $port (index . 0) }}
{{- end }}
{{- if and .Values.spacelift.enabled (eq (int .Values.spacelift.servicePort) (int .Values.agents.service.port)) }}
{{- fail (printf "spacelift.servicePort and agents.service.port are both %d: the agents Service needs one port for each" (int .Values.agents.service.port)) }}
{{- end }}
{{- end }}
