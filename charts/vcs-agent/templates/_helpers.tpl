{{/*
Chart name, truncated to the 63 characters a DNS label allows.
*/}}
{{- define "vcs-agent.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: release-chart, or the release name alone when it already contains
the chart name.
*/}}
{{- define "vcs-agent.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "vcs-agent.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every object.
*/}}
{{- define "vcs-agent.labels" -}}
helm.sh/chart: {{ include "vcs-agent.chart" . }}
{{ include "vcs-agent.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels: stable across upgrades (a Deployment's selector is immutable).
*/}}
{{- define "vcs-agent.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vcs-agent.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "vcs-agent.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "vcs-agent.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
image: repository:tag, or repository@digest when a digest is pinned.
*/}}
{{- define "vcs-agent.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
Name of the Secret the chart owns (credentials, Bugsnag key, proxy URLs).
*/}}
{{- define "vcs-agent.secretName" -}}
{{- include "vcs-agent.fullname" . }}
{{- end }}

{{/*
Whether the chart renders its own Secret: always without existingSecret, and
with it only when a secret value (Bugsnag key, proxy URL) is given in values.
*/}}
{{- define "vcs-agent.ownSecret" -}}
{{- if or (not .Values.credentials.existingSecret) .Values.bugsnagApiKey .Values.proxy.httpsProxy .Values.proxy.httpProxy -}}
true
{{- end }}
{{- end }}

{{/*
host:port for SPACELIFT_VCS_AGENT_HEALTH_LISTEN; an IPv6 host is bracketed.
*/}}
{{- define "vcs-agent.healthListen" -}}
{{- if contains ":" .Values.health.host }}
{{- printf "[%s]:%d" .Values.health.host (int .Values.health.port) }}
{{- else }}
{{- printf "%s:%d" .Values.health.host (int .Values.health.port) }}
{{- end }}
{{- end }}

{{/*
Fail early, with the value at fault named, on what the schema cannot express.
*/}}
{{- define "vcs-agent.validate" -}}
{{- if not .Values.credentials.existingSecret }}
{{- if not .Values.credentials.token }}
{{- fail "credentials.token is required (or set credentials.existingSecret to a Secret holding it)" }}
{{- end }}
{{- if not .Values.credentials.endpoint }}
{{- fail "credentials.endpoint is required: the VCS base URL, e.g. https://gitlab.example.com" }}
{{- end }}
{{- if not .Values.credentials.vendor }}
{{- fail "credentials.vendor is required: one of azure_devops, gitlab, bitbucket_datacenter, github_enterprise" }}
{{- end }}
{{- end }}
{{- if and .Values.credentials.existingSecret .Values.credentials.token }}
{{- fail "credentials.token and credentials.existingSecret are both set: keep the token in the Secret and unset credentials.token" }}
{{- end }}
{{- if and .Values.extraCA.existingConfigMap .Values.extraCA.existingSecret }}
{{- fail "extraCA: set existingConfigMap or existingSecret, not both" }}
{{- end }}
{{- if and (or .Values.metrics.podAnnotations .Values.metrics.service.enabled .Values.metrics.serviceMonitor.enabled) (not .Values.health.enabled) }}
{{- fail "metrics.* needs health.enabled=true: /metrics is served by the health listener" }}
{{- end }}
{{- range $key, $_ := .Values.metadata }}
{{- if not (regexMatch "^[A-Za-z0-9_.-]{1,64}$" $key) }}
{{- fail (printf "metadata key %q: expected 1-64 letters, digits, '_', '.' or '-' (it becomes SPACELIFT_METADATA_%s)" $key $key) }}
{{- end }}
{{- end }}
{{- if gt (len .Values.metadata) 32 }}
{{- fail "metadata: at most 32 tags are sent to the gateway" }}
{{- end }}
{{- end }}
