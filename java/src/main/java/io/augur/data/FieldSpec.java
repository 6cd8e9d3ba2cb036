package io.augur.data;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import java.util.Objects;

/**
 * One column of the sample format as listed in dataset.json.
 *
 * @param name  the Arrow column name
 * @param role  what the column means
 * @param vocab the vocabulary its ids index (null for the label); ids lie in [0, size of vocab)
 */
@JsonPropertyOrder({"name", "role", "vocab"})
@JsonInclude(JsonInclude.Include.NON_NULL)
public record FieldSpec(@JsonProperty("name") String name,
                        @JsonProperty("role") FieldRole role,
                        @JsonProperty("vocab") String vocab) {

    public FieldSpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(role, "role");
    }
}
