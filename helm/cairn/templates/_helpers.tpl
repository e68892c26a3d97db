{{/* Names and labels shared by every template. */}}
{{- define "cairn.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cairn.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "cairn.labels" -}}
app.kubernetes.io/name: {{ include "cairn.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "cairn.selector" -}}
app.kubernetes.io/name: {{ include "cairn.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "cairn.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "cairn.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "cairn.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The restricted pod security context every pod runs with. */}}
{{- define "cairn.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "cairn.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 65532
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Environment shared by coordinators and workers: backends, credentials, identity. */}}
{{- define "cairn.env" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
- name: CAIRN_NODE_ID
  value: "$(POD_NAME)"
{{- if .Values.auth.enabled }}
- name: CAIRN_BOOTSTRAP_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "cairn.authSecret" . }}
      key: token
{{- else }}
- name: CAIRN_INSECURE_NO_AUTH
  value: "true"
{{- end }}
{{- if .Values.tls.secretName }}
- name: CAIRN_TLS_CERT
  value: /etc/cairn/tls/tls.crt
- name: CAIRN_TLS_KEY
  value: /etc/cairn/tls/tls.key
# Replicas forward to each other over TLS: they trust the issuing CA.
- name: CAIRN_CA_CERT
  value: /etc/cairn/tls/ca.crt
{{- if .Values.tls.requireClientCert }}
- name: CAIRN_CLIENT_CA
  value: /etc/cairn/tls/ca.crt
{{- end }}
{{- end }}
{{- if .Values.etcd.tls.secretName }}
- name: CAIRN_ETCD_CA_CERT
  value: /etc/cairn/etcd-tls/ca.crt
- name: CAIRN_ETCD_CLIENT_CERT
  value: /etc/cairn/etcd-tls/tls.crt
- name: CAIRN_ETCD_CLIENT_KEY
  value: /etc/cairn/etcd-tls/tls.key
{{- end }}
{{- if .Values.etcd.auth.existingSecret }}
- name: CAIRN_ETCD_USER
  valueFrom:
    secretKeyRef:
      name: {{ .Values.etcd.auth.existingSecret }}
      key: username
- name: CAIRN_ETCD_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.etcd.auth.existingSecret }}
      key: password
{{- end }}
{{- if .Values.s3.existingSecret }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ .Values.s3.existingSecret }}
      key: AWS_ACCESS_KEY_ID
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.s3.existingSecret }}
      key: AWS_SECRET_ACCESS_KEY
{{- end }}
{{- end -}}


{{/* The Secret holding the bootstrap token. */}}
{{- define "cairn.authSecret" -}}
{{- .Values.auth.existingSecret | default (printf "%s-bootstrap-token" (include "cairn.fullname" .)) -}}
{{- end -}}

{{/* http or https, as the gRPC ports serve. */}}
{{- define "cairn.scheme" -}}
{{- if .Values.tls.secretName }}https{{ else }}http{{ end -}}
{{- end -}}

{{/* The address a pod advertises: its IP in plaintext; with TLS a name its certificate
covers, <pod>.<headless Service>.<namespace>.svc (the pod's subdomain). */}}
{{- define "cairn.advertiseHost" -}}
{{- $root := .root -}}
{{- if $root.Values.tls.secretName -}}
https://$(POD_NAME).{{ include "cairn.fullname" $root }}-{{ .service }}.{{ $root.Release.Namespace }}.svc
{{- else -}}
http://$(POD_IP)
{{- end -}}
{{- end -}}
