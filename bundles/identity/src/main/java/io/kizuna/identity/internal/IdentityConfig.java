package io.kizuna.identity.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import org.osgi.service.metatype.annotations.Option;

/** Configuration of the node identity (PID {@value IdentityComponent#PID}). */
@ObjectClassDefinition(name = "Kizuna node identity",
        description = "The node's Ed25519 key, whose public half is its PeerId")
@interface IdentityConfig {

    @AttributeDefinition(name = "Key file",
            description = "PEM PKCS#8 Ed25519 private key, created (owner-only) when missing. Empty: "
                    + "identity/node.key under the framework property kizuna.home, else node.key in the "
                    + "bundle's data area. A relative path is resolved against kizuna.home when it is set. "
                    + "A file that group or others may read or write is refused.")
    String keyFile() default "";

    @AttributeDefinition(name = "TLS engine",
            description = "Which TLS implementation the websocket and tcp transports run TLS 1.3 on. auto: "
                    + "websocket on OpenSSL (BoringSSL, netty-tcnative) when its native library loads, else on "
                    + "the JDK's, with the reason logged; tcp on the JDK's, as OpenSSL cannot half-close a "
                    + "connection, which tcp streams do. openssl: both on OpenSSL, or they do not start (on tcp, "
                    + "a stream whose peer ends its output then ends). jdk: both on the JDK's. The certificate "
                    + "checks are the same with either.",
            options = {@Option(value = "auto", label = "auto: OpenSSL where it fits and loads, else the JDK"),
                    @Option(value = "openssl", label = "openssl: OpenSSL (BoringSSL) only"),
                    @Option(value = "jdk", label = "jdk: the JDK's TLS")})
    String tlsEngine() default "auto";
}
