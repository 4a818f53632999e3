package io.kizuna.identity.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

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
}
